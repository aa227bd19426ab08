/*
 * NAME
 *	delegation.h - the Postfix SMTP access policy delegation protocol, server side
 */
#ifndef POLICYD_DELEGATION_H
#define POLICYD_DELEGATION_H

#include "policy_request.h"
#include "policyd.h"
#include "server.h"

#define DELEGATION_MAX_REQUEST 16384 /* Postfix requests are about 1 KB */

server_protocol delegation_protocol(policyd *d);

#endif
