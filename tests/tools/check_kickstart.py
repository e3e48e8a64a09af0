#!/usr/bin/env python3
"""Checks kickstarts and OEMDRV images that `lab kickstart` wrote, with the real tools:
ksvalidator and pykickstart's parser, `bash -n` on every script, pycdlib and blkid on the image.

Usage: check_kickstart.py MANIFEST.json
The manifest is a list of cases: {"ks", "iso", "syntax", "hostname", "ip", "netmask", "user", "key"}.
Prints one line per problem and exits 1 if there is any.
"""
import atexit
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile

# pykickstart (and ksvalidator) leave their preprocessed copies in the temporary folder: give
# them one of ours, removed when this check ends.
_scratch = tempfile.mkdtemp(prefix="lab-ks-check-")
atexit.register(shutil.rmtree, _scratch, True)
os.environ["TMPDIR"] = _scratch
tempfile.tempdir = _scratch

try:
    import pycdlib
    from pykickstart.constants import KS_SHUTDOWN
    from pykickstart.parser import KickstartParser
    from pykickstart.version import makeVersion
except ImportError as e:
    print(f"missing Python package ({e}): run `bash tests/run.sh`, or `python3 -m pip install pykickstart pycdlib`")
    sys.exit(3)


def check(case):
    problems = []
    say = lambda msg: problems.append(f"{case['ks']}: {msg}")
    ks_bytes = open(case["ks"], "rb").read()

    r = subprocess.run(["ksvalidator", "-v", case["syntax"], case["ks"]], capture_output=True, text=True)
    if r.returncode != 0:
        say(f"ksvalidator -v {case['syntax']} failed: {r.stdout.strip()} {r.stderr.strip()}")

    h = makeVersion(case["syntax"])
    KickstartParser(h).readKickstart(case["ks"])
    nets = h.network.network
    if not any(n.hostname == case["hostname"] for n in nets):
        say(f"no network --hostname={case['hostname']}")
    static = [n for n in nets if n.bootProto == "static"]
    if len(static) != 1 or static[0].ip != case["ip"] or static[0].netmask != case["netmask"]:
        say(f"expected one static NIC with {case['ip']}/{case['netmask']}, got {[(n.ip, n.netmask) for n in static]}")
    elif not static[0].nodefroute or static[0].gateway:
        say("the static (host-only) NIC must have --nodefroute and no gateway")
    if not any(n.bootProto == "dhcp" and n.device and not n.nodefroute for n in nets):
        say("no DHCP NIC carrying the default route")
    if [u.name for u in h.user.userList] != [case["user"]]:
        say(f"users: {[u.name for u in h.user.userList]}, expected [{case['user']}]")
    if not h.rootpw.lock:
        say("root password is not locked")
    if h.reboot.action != KS_SHUTDOWN:
        say("does not power off at the end")
    key_ok = any(k.username == case["user"] and k.key == case["key"] for k in getattr(h, "sshkey", None).sshUserList) if hasattr(h, "sshkey") else False
    posts = [s.script for s in h.scripts]
    if not key_ok and not any(case["key"] in p and "authorized_keys" in p for p in posts):
        say("the lab's public key is neither in sshkey nor written to authorized_keys")
    if not h.scripts:
        say("no %post script")
    for s in h.scripts:
        r = subprocess.run(["bash", "-n"], input=s.script, capture_output=True, text=True)
        if r.returncode != 0:
            say(f"bash -n on a script: {r.stderr.strip()}")

    iso_path = case.get("iso")
    if iso_path:
        data = open(iso_path, "rb").read()
        iso = pycdlib.PyCdlib()
        iso.open(iso_path)
        if iso.pvd.volume_identifier.rstrip(b" ") != b"OEMDRV":
            say(f"volume id {iso.pvd.volume_identifier!r}")
        if iso.has_joliet() or iso.has_rock_ridge():
            say("image has Joliet or Rock Ridge (their names or label could win)")
        buf = io.BytesIO()
        iso.get_file_from_iso_fp(buf, iso_path="/KS.CFG;1")
        if buf.getvalue() != ks_bytes:
            say("ks.cfg in the image differs from the kickstart printed")
        if iso.pvd.space_size * 2048 != len(data):
            say(f"space size {iso.pvd.space_size} does not match {len(data)} bytes")
        if iso.pvd.path_tbl_size != 10:
            say(f"path table size {iso.pvd.path_tbl_size}, expected 10")
        iso.close()
        for tag, want in (("LABEL", "OEMDRV"), ("TYPE", "iso9660")):
            r = subprocess.run(["blkid", "-p", "-o", "value", "-s", tag, iso_path], capture_output=True, text=True)
            if r.stdout.strip() != want:
                say(f"blkid {tag}={r.stdout.strip()!r}, expected {want}")
    return problems


def main():
    cases = json.load(open(sys.argv[1]))
    problems = [p for c in cases for p in check(c)]
    for p in problems:
        print(p)
    print(f"checked {len(cases)} kickstarts: {len(problems)} problems")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
