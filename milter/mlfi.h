/*
 * NAME
 *	mlfi.h - forcetls-milter's libmilter callbacks
 */
#ifndef MILTER_MLFI_H
#define MILTER_MLFI_H

#include <libmilter/mfapi.h>

struct smfiDesc *mlfi_descriptor(void);
/* Ask for DATA and answer it (TCP sockets: the reply carries the ACK). */
void mlfi_answer_data(int on);

#endif
