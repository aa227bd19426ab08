/*
 * NAME
 *	fuzz_relay - libFuzzer target for the relay client's dialogue (milter/relay_smtp.c)
 * DESCRIPTION
 *	The input is: one flags byte (EHLO keywords 8BITMIME and SMTPUTF8, a
 *	non-ASCII sender, one to three recipients, the size of the message's
 *	pieces), two bytes of message length L, L bytes of message, and what
 *	a hostile gateway answers. relay_transaction() runs over one end of a
 *	socketpair (the part of a session after the TLS EHLO: MAIL, RCPT, DATA,
 *	the message, the end of data); what it wrote is read back from the
 *	other end. Properties checked besides the sanitizers:
 *	- a failure says why, and why is printable;
 *	- success needs 250 to the end of data, and at least as many reply
 *	  lines as commands sent;
 *	- a non-ASCII sender is never sent to a gateway that lacks SMTPUTF8;
 *	- on success, what follows DATA is the message with CR LF line ends,
 *	  dot-stuffed, ended by CR LF "." CR LF: undoing the stuffing gives the
 *	  message back exactly (line ends made CR LF, a final one added).
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "relay_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "fuzz_relay: %s:%d: %s\n", __FILE__, __LINE__, #cond);     \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

typedef struct {
	const uint8_t *p;
	size_t n, off, chunk;
} source;

static int next(void *arg, const char **d, size_t *len)
{
	source *s = arg;
	size_t k = s->n - s->off < s->chunk ? s->n - s->off : s->chunk;

	*d = (const char *)s->p + s->off;
	*len = k;
	s->off += k;
	return 0;
}

static int rewind_src(void *arg)
{
	((source *)arg)->off = 0;
	return 0;
}

/* The message as it must arrive: CR, LF, CR LF made CR LF, a final CR LF. */
static size_t normalise(const uint8_t *p, size_t n, char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\r' || p[i] == '\n') {
			out[o++] = '\r';
			out[o++] = '\n';
			if (p[i] == '\r' && i + 1 < n && p[i + 1] == '\n')
				i++;
		} else {
			out[o++] = (char)p[i];
		}
	}
	if (o > 0 && !(o >= 2 && out[o - 2] == '\r' && out[o - 1] == '\n')) {
		out[o++] = '\r';
		out[o++] = '\n';
	}
	return o;
}

/* Undo the dot-stuffing of a DATA section ending in CR LF "." CR LF. */
static size_t unstuff(const char *p, size_t n, char *out)
{
	size_t o = 0, i = 0;

	CHECK(n >= 3 && memcmp(p + n - 3, ".\r\n", 3) == 0);
	n -= 3;
	while (i < n) {
		const char *e = memchr(p + i, '\n', n - i);
		size_t len;

		CHECK(e != NULL && e > p + i && e[-1] == '\r');
		len = (size_t)(e - (p + i)) + 1;
		CHECK(memchr(p + i, '\r', len - 2) == NULL); /* no bare CR */
		if (p[i] == '.') {
			CHECK(len > 3); /* a lone "." before the end is never sent */
			i++, len--;
		}
		memcpy(out + o, p + i, len);
		o += len;
		i += len;
	}
	return o;
}

static void check_output(int fd, const source *msg)
{
	static char out[1 << 20], want[3 * 65536 + 2], got[1 << 20];
	size_t n = 0;
	ssize_t k;
	char *d;

	while (n < sizeof(out) && (k = recv(fd, out + n, sizeof(out) - n, MSG_DONTWAIT)) > 0)
		n += (size_t)k;
	d = memmem(out, n, "\r\nDATA\r\n", 8);
	CHECK(d != NULL);
	d += 8;
	k = (ssize_t)unstuff(d, n - (size_t)(d - out), got);
	CHECK((size_t)k == normalise(msg->p, msg->n, want));
	CHECK(memcmp(got, want, (size_t)k) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static relay_client c = {.helo = "fuzz.example", .timeout = 1};
	static const char *const rcpts[] = {"<a@b.example>", "<c@d.example>", "<e@f.example>"};
	char why[RELAY_TEXT_MAX], reply[RELAY_TEXT_MAX];
	size_t mlen, nrcpts, lines = 0;
	source s = {0};
	relay_source src = {next, rewind_src, &s};
	relay_msg m;
	unsigned ext;
	smtpconn *conn;
	int sv[2], bufsize = 1 << 20, rc;

	if (size < 3 || size > 65536)
		return 0;
	ext = (data[0] & 1 ? SMTPCONN_EXT_8BITMIME : 0) | (data[0] & 2 ? SMTPCONN_EXT_SMTPUTF8 : 0);
	nrcpts = 1 + (data[0] >> 2 & 3) % 3;
	s.chunk = 1 + (data[0] >> 4);
	mlen = (size_t)data[1] << 8 | data[2];
	if (mlen > size - 3)
		mlen = size - 3;
	s.p = data + 3;
	s.n = mlen;
	m = (relay_msg){data[0] & 0x40 ? "<s\xc3\xa9@x.example>" : "<s@x.example>", rcpts, nrcpts,
	                &src, (data[0] & 0x40) != 0};
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		abort();
	(void)setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &bufsize, sizeof(bufsize));
	(void)setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &bufsize, sizeof(bufsize));
	(void)setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &bufsize, sizeof(bufsize));
	(void)setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &bufsize, sizeof(bufsize));
	if (size > 3 + mlen && send(sv[1], data + 3 + mlen, size - 3 - mlen, MSG_NOSIGNAL) !=
	                               (ssize_t)(size - 3 - mlen))
		abort();
	shutdown(sv[1], SHUT_WR); /* the gateway says no more, but still reads */
	(void)fcntl(sv[0], F_SETFL, O_NONBLOCK);
	for (size_t i = 3 + mlen; i < size; i++)
		lines += data[i] == '\n';
	if ((conn = smtpconn_new(1, 0)) == NULL)
		abort();
	smtpconn_set_fd(conn, sv[0]);
	why[0] = reply[0] = '\0';
	rc = relay_transaction(conn, &c, ext, &m, reply, sizeof(reply), why, sizeof(why));
	if (rc == 0) {
		CHECK(strncmp(reply, "250", 3) == 0);
		CHECK(lines >= nrcpts + 3);
		CHECK(!m.utf8 || (ext & SMTPCONN_EXT_SMTPUTF8));
		check_output(sv[1], &s);
	} else {
		CHECK(rc == -1 || rc == -2);
		CHECK(why[0] != '\0');
		for (size_t j = 0; why[j] != '\0'; j++)
			CHECK((unsigned char)why[j] >= 0x20 && (unsigned char)why[j] < 0x7f);
		if (m.utf8 && !(ext & SMTPCONN_EXT_SMTPUTF8))
			CHECK(recv(sv[1], why, 1, MSG_DONTWAIT) <= 0); /* nothing sent */
	}
	smtpconn_free(conn);
	close(sv[1]);
	return 0;
}
