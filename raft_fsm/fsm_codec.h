/* fsm_codec: constants of the entry encoding and the validation shared by the encoder
 * and the decoder. The public encode/decode functions are declared in fsm.h. */
#ifndef RAFTGRES_FSM_CODEC_H
#define RAFTGRES_FSM_CODEC_H

#include <stddef.h>

#include "raft_fsm/fsm.h"

#define FSM_ENTRY_MAGIC   0x52 /* 'R': first byte of every entry */
#define FSM_ENTRY_VERSION 1    /* entry format version (second byte) */
#define FSM_ENTRY_HEADER  8    /* magic, version, type, flags, u32 payload length */

/* Semantic checks of a command (bounds, required fields, ttl_ms > 0, no duplicate sync
 * names, ...). Returns FSM_OK, FSM_EMALFORMED or FSM_EUNKNOWN with a reason in why. */
int fsm_cmd_check(const struct fsm_cmd *cmd, char *why, size_t whylen);

#endif
