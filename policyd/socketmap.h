/*
 * NAME
 *	socketmap.h - the Postfix socketmap protocol, server side
 */
#ifndef POLICYD_SOCKETMAP_H
#define POLICYD_SOCKETMAP_H

#include "policyd.h"
#include "server.h"

#define SOCKETMAP_MAX_REQUEST 4096 /* "NAME KEY" framed; Postfix keys are far shorter */

server_protocol socketmap_protocol(policyd *d);

#endif
