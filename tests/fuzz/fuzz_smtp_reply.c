/*
 * NAME
 *	fuzz_smtp_reply - libFuzzer target for the SMTP reply reader (common/smtpconn.c)
 * DESCRIPTION
 *	The input is what a hostile SMTP server sends before it closes the
 *	connection. It is written into one end of a socketpair and read back
 *	with smtpconn_read_reply(), the reader of tlsmaps probe and of the
 *	milter's relay client, reply after reply, until it fails. Properties
 *	checked besides the sanitizers:
 *	- every reply has a code from 200 to 599 and printable text;
 *	- a failure always says why;
 *	- the reader never returns more replies than the input has lines.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "smtpconn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "fuzz_smtp_reply: %s:%d: %s\n", __FILE__, __LINE__,        \
			        #cond);                                                            \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	smtpconn *c;
	char why[SMTPCONN_TEXT_MAX];
	size_t lines = 0, replies = 0, i;
	int sv[2], bufsize = 1 << 20;

	if (size > 65536)
		return 0;
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		abort();
	(void)setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &bufsize, sizeof(bufsize));
	(void)setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &bufsize, sizeof(bufsize));
	if (size > 0 && send(sv[1], data, size, MSG_NOSIGNAL) != (ssize_t)size)
		abort();
	close(sv[1]);
	(void)fcntl(sv[0], F_SETFL, O_NONBLOCK);

	for (i = 0; i < size; i++)
		lines += data[i] == '\n';
	if ((c = smtpconn_new(1, 0)) == NULL)
		abort();
	smtpconn_set_fd(c, sv[0]);
	why[0] = '\0';
	for (;;) {
		smtpconn_reply r;
		size_t j;

		if (smtpconn_read_reply(c, &r, why, sizeof(why)) < 0)
			break;
		replies++;
		CHECK(replies <= lines);
		CHECK(r.code >= 200 && r.code <= 599);
		for (j = 0; r.text[j] != '\0'; j++)
			CHECK(r.text[j] >= 0x20 && r.text[j] < 0x7f);
	}
	CHECK(why[0] != '\0');
	smtpconn_free(c);
	return 0;
}
