/*
 * NAME
 *	minimilter - the smallest useful libmilter filter: it adds one header
 * SUMMARY
 *	minimilter [-n] [-d] SPEC
 * DESCRIPTION
 *	The baseline of bench/milter/run.sh: what any libmilter filter costs
 *	Postfix, before it does any work. At option negotiation it asks for
 *	nothing but the end of the message (SMFIP_NOCONNECT ... SMFIP_NODATA,
 *	every optional stage away) and no macros; at end of message it adds
 *	"X-Bench: yes" and accepts. SPEC is libmilter's form, inet:PORT@HOST or
 *	unix:PATH. It runs in the foreground until SIGTERM/SIGINT.
 *
 *	-n sets TCP_NODELAY on the listening socket before smfi_main(); on
 *	Linux the sockets accept(2) returns inherit it. libmilter writes each
 *	reply with its own writev(2), and at end of message that is one packet
 *	per modification followed by the final SMFIR_ACCEPT: without -n,
 *	Nagle holds the final reply until Postfix ACKs the modification, and
 *	Postfix, which has nothing to send yet, delays that ACK (about 40 ms).
 *
 *	-d keeps the DATA stage, with a reply. Postfix's smtpd writes the
 *	macros of the stages negotiated away (and commands that need no reply)
 *	into its buffer and flushes them when it hands the milter connection to
 *	cleanup(8) at DATA; cleanup's first write then waits, by Nagle's rule on
 *	Postfix's socket, for the ACK of that packet, which the milter delays
 *	because it has nothing to answer. Answering DATA makes smtpd's last
 *	packet a question: the reply carries the ACK.
 * DIAGNOSTICS
 *	Errors to stderr; exit 1.
 */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libmilter/mfapi.h>
#include <libmilter/mfdef.h>

static sfsistat mm_eom(SMFICTX *ctx)
{
	if (smfi_addheader(ctx, "X-Bench", "yes") != MI_SUCCESS)
		return SMFIS_TEMPFAIL;
	return SMFIS_ACCEPT;
}

static sfsistat mm_data(SMFICTX *ctx)
{
	(void)ctx;
	return SMFIS_CONTINUE;
}

static int keep_data;

static sfsistat mm_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1, unsigned long f2,
                             unsigned long f3, unsigned long *pf0, unsigned long *pf1,
                             unsigned long *pf2, unsigned long *pf3)
{
	unsigned long steps = SMFIP_NOCONNECT | SMFIP_NOHELO | SMFIP_NOMAIL | SMFIP_NORCPT |
	                      SMFIP_NOBODY | SMFIP_NOHDRS | SMFIP_NOEOH | SMFIP_NOUNKNOWN |
	                      SMFIP_NODATA;

	(void)f2;
	(void)f3;
	if (keep_data)
		steps &= ~(unsigned long)SMFIP_NODATA;
	if ((f0 & SMFIF_ADDHDRS) == 0)
		return SMFIS_REJECT;
	*pf0 = SMFIF_ADDHDRS | (f0 & SMFIF_SETSYMLIST);
	*pf1 = steps & f1;
	*pf2 = *pf3 = 0;
	if (f0 & SMFIF_SETSYMLIST) {
		/* A macro nobody defines: Postfix sends an empty list, not its defaults. */
		static const int stages[] = {SMFIM_CONNECT, SMFIM_HELO, SMFIM_ENVFROM,
		                             SMFIM_ENVRCPT, SMFIM_DATA, SMFIM_EOH,
		                             SMFIM_EOM};

		for (size_t i = 0; i < sizeof(stages) / sizeof(stages[0]); i++)
			smfi_setsymlist(ctx, stages[i], "{bench_none}");
	}
	return SMFIS_CONTINUE;
}

/* libmilter keeps its listening socket to itself: find it (the only one). */
static int listener_nodelay(void)
{
	int one = 1, n = 0;

	for (int fd = 0; fd < 1024; fd++) {
		int acc = 0;
		socklen_t len = sizeof(acc);
		struct sockaddr_storage ss;
		socklen_t slen = sizeof(ss);

		if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &len) < 0 || !acc)
			continue;
		if (getsockname(fd, (struct sockaddr *)&ss, &slen) < 0 ||
		    (ss.ss_family != AF_INET && ss.ss_family != AF_INET6))
			continue;
		if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0) {
			perror("minimilter: TCP_NODELAY");
			return -1;
		}
		n++;
	}
	return n;
}

int main(int argc, char **argv)
{
	struct smfiDesc desc = {
	        .xxfi_name = "minimilter",
	        .xxfi_version = SMFI_VERSION,
	        .xxfi_flags = SMFIF_ADDHDRS | SMFIF_SETSYMLIST,
	        .xxfi_data = mm_data,
	        .xxfi_eom = mm_eom,
	        .xxfi_negotiate = mm_negotiate,
	};
	int nodelay = 0, c;

	while ((c = getopt(argc, argv, "nd")) != -1) {
		if (c == 'n')
			nodelay = 1;
		else if (c == 'd')
			keep_data = 1;
		else {
			fprintf(stderr, "usage: minimilter [-n] [-d] SPEC\n");
			return 1;
		}
	}
	if (optind + 1 != argc) {
		fprintf(stderr, "usage: minimilter [-n] [-d] SPEC\n");
		return 1;
	}
	umask(0);
	if (smfi_register(desc) == MI_FAILURE || smfi_setconn(argv[optind]) == MI_FAILURE ||
	    smfi_opensocket(1) == MI_FAILURE) {
		fprintf(stderr, "minimilter: cannot listen on %s\n", argv[optind]);
		return 1;
	}
	if (nodelay && listener_nodelay() < 0)
		return 1;
	fprintf(stderr, "minimilter: ready on %s%s%s\n", argv[optind],
	        nodelay ? " (TCP_NODELAY)" : "", keep_data ? " (DATA with a reply)" : "");
	return smfi_main() == MI_SUCCESS ? 0 : 1;
}
