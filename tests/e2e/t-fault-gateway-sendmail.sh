#!/bin/bash
# t-fault-gateway-sendmail.sh - t-fault-gateway.sh's rows on the real Sendmail 8.17
# (lib-sendmail.sh): the milter in relay mode as examples/sendmail/forcetls.conf.sendmail
# has it, the gateway written gateway.test:10025. Every sub-case and assertion is
# t-fault-gateway.sh's; the rows are named the same, with mta=sendmail.
#
# usage: t-fault-gateway-sendmail.sh TLSMAPS [EXAMPLES_DIR]   (FTLS_POLICYD, FTLS_MILTER)
FGW_MTA=sendmail exec bash "$(dirname "$0")/t-fault-gateway.sh" "$@"
