#!/usr/bin/python3
"""
NAME
	mta-sts-cached.py - postfix-mta-sts-resolver answering from a pre-filled cache
SUMMARY
	mta-sts-cached.py CONFIG.yml DOMAINS_FILE
DESCRIPTION
	Runs the socketmap responder of the Debian package postfix-mta-sts-resolver
	(the code of mta-sts-daemon: STSSocketmapResponder and its "internal" LRU
	cache) after storing an "enforce" policy for every domain of DOMAINS_FILE
	(one a line) in that cache, so that each lookup is answered from the cache
	("OK secure match=mx.DOMAIN servername=hostname"), with no DNS or HTTPS
	fetch: this machine has no Internet, and the benchmark compares answering
	speed, not fetching. CONFIG.yml is the daemon's own configuration file
	(host, port, cache_grace...). Runs until SIGTERM/SIGINT.
SEE ALSO
	bench/policyd/run-policyd-bench.sh, mta-sts-daemon(1)
"""
import asyncio
import signal
import sys
import time

from postfix_mta_sts_resolver import utils
from postfix_mta_sts_resolver.base_cache import CacheEntry
from postfix_mta_sts_resolver.responder import STSSocketmapResponder


async def amain(cfg, domains):
    loop = asyncio.get_running_loop()
    opts = dict(cfg["cache"]["options"])
    opts["cache_size"] = max(opts.get("cache_size", 0), len(domains) + 1)
    cache = utils.create_cache("internal", opts)
    await cache.setup()
    now = time.time()
    for d in domains:
        body = {"version": "STSv1", "mode": "enforce", "max_age": 86400 * 365,
                "mx": ["mx." + d]}
        await cache.set(d, CacheEntry(now, "bench-" + d, body))
    responder = STSSocketmapResponder(cfg, loop, cache)
    await responder.start()
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    print("mta-sts-cached: listening, %d domains cached" % len(domains), flush=True)
    await stop.wait()


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: mta-sts-cached.py CONFIG.yml DOMAINS_FILE")
    cfg = utils.load_config(sys.argv[1])
    with open(sys.argv[2]) as f:
        domains = [l.strip() for l in f if l.strip()]
    asyncio.run(amain(cfg, domains))


if __name__ == "__main__":
    main()
