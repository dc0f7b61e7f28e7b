/* procstat: what the daemon and the fencer both read of a process in /proc. */
#ifndef RAFTGRES_PROCSTAT_H
#define RAFTGRES_PROCSTAT_H

/* The process's start time (field 22 of /proc/PID/stat, clock ticks since boot): tells the
 * postmaster we were told about from a later process that reused its PID. 0 if unknown. */
unsigned long long proc_start_time(long pid);

#endif
