#!/usr/bin/env python3
"""usage: sandbox.py PROGRAM [ARGS...]

Run a program under parts of the units' sandbox: NoNewPrivileges=yes,
MemoryDenyWriteExecute=yes (PR_SET_MDWE) and SystemCallFilter=@system-service
~@privileged with SystemCallErrorNumber=EPERM (libseccomp, the sets as
systemd-analyze syscall-filter lists them), SystemCallArchitectures=native.
No systemd runs on the build machines: this is how the tests see that the
daemons live with those settings (packaging/systemd/*.service)."""
import ctypes, errno, os, subprocess, sys

def expand(group, seen):
    out = subprocess.run(["systemd-analyze", "syscall-filter", group], capture_output=True,
                         text=True, check=True).stdout.split("\n")
    names = set()
    for line in out[1:]:
        w = line.strip()
        if not w or w.startswith("#"):
            continue
        if w.startswith("@"):
            if w not in seen:
                seen.add(w)
                names |= expand(w, seen)
        else:
            names.add(w)
    return names

allow = expand("@system-service", set()) - expand("@privileged", set())
libc = ctypes.CDLL(None, use_errno=True)
sc = ctypes.CDLL("libseccomp.so.2")
assert libc.prctl(38, 1, 0, 0, 0) == 0, "PR_SET_NO_NEW_PRIVS"
assert libc.prctl(65, 1, 0, 0, 0) == 0, "PR_SET_MDWE"
sc.seccomp_init.restype = ctypes.c_void_p
ctx = ctypes.c_void_p(sc.seccomp_init(0x00050000 | errno.EPERM))  # SCMP_ACT_ERRNO(EPERM)
for name in sorted(allow):
    nr = sc.seccomp_syscall_resolve_name(name.encode())
    if nr >= 0:  # names this architecture lacks (the 32-bit ones) resolve to < 0
        assert sc.seccomp_rule_add(ctx, 0x7fff0000, nr, 0) == 0, name  # SCMP_ACT_ALLOW
assert sc.seccomp_load(ctx) == 0, "seccomp_load"
os.execv(sys.argv[1], sys.argv[1:])
