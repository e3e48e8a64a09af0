#!/usr/bin/env python3
"""Checks kickstarts, OEMDRV images and cloud-init seed discs that `lab kickstart` wrote, with
the real tools: ksvalidator and pykickstart's parser, `bash -n` on every script, pycdlib and
blkid on the images, a YAML parser on the NoCloud files.

Usage: check_kickstart.py MANIFEST.json
The manifest is a list of cases: node cases {"ks", "iso", "seed", "syntax", "hostname", "ip",
"netmask", "user", "key"} and base cases {"base": true, "ks", "iso", "syntax"}.
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
    import yaml
    from pykickstart.constants import KS_SHUTDOWN
    from pykickstart.parser import KickstartParser
    from pykickstart.version import makeVersion
except ImportError as e:
    print(f"missing Python package ({e}): run `bash tests/run.sh`, or `python3 -m pip install pykickstart pycdlib PyYAML`")
    sys.exit(3)


def read_iso_file(iso, name):
    buf = io.BytesIO()
    iso.get_file_from_iso_fp(buf, iso_path=name)
    return buf.getvalue()


def check_image(say, path, label, files):
    """The image is plain ISO 9660 labelled `label`, holding `files` ({ISO name: bytes or None})."""
    data = open(path, "rb").read()
    iso = pycdlib.PyCdlib()
    iso.open(path)
    if iso.pvd.volume_identifier.rstrip(b" ") != label.encode():
        say(f"volume id {iso.pvd.volume_identifier!r}, expected {label}")
    if iso.has_joliet() or iso.has_rock_ridge():
        say("image has Joliet or Rock Ridge (their names or label could win)")
    if iso.pvd.space_size * 2048 != len(data):
        say(f"space size {iso.pvd.space_size} does not match {len(data)} bytes")
    if iso.pvd.path_tbl_size != 10:
        say(f"path table size {iso.pvd.path_tbl_size}, expected 10")
    got = {}
    for name, want in files.items():
        got[name] = read_iso_file(iso, "/" + name)
        if want is not None and got[name] != want:
            say(f"{name} in the image differs from what was printed")
    iso.close()
    for tag, want in (("LABEL", label), ("TYPE", "iso9660")):
        r = subprocess.run(["blkid", "-p", "-o", "value", "-s", tag, path], capture_output=True, text=True)
        if r.stdout.strip() != want:
            say(f"blkid {tag}={r.stdout.strip()!r}, expected {want}")
    return got


def check_base(case, say, h):
    """A base kickstart: no user, no key, no node; cloud-init installed and told to read only
    its seed disc; DHCP while installing; powers off."""
    if h.user.userList:
        say(f"the base has users: {[u.name for u in h.user.userList]}")
    if hasattr(h, "sshkey") and h.sshkey.sshUserList:
        say("the base carries an SSH key")
    if any(n.bootProto == "static" for n in h.network.network):
        say("the base has a static address")
    if "cloud-init" not in h.packages.packageList:
        say("cloud-init is not in %packages")
    if not any("datasource_list: [NoCloud, None]" in s.script for s in h.scripts):
        say("cloud-init is not limited to the NoCloud seed")
    if not h.rootpw.lock:
        say("root password is not locked")
    if h.reboot.action != KS_SHUTDOWN:
        say("does not power off at the end")


def check_seed(case, say):
    files = check_image(say, case["seed"], "cidata", {"META-DATA;1": None, "USER-DATA;1": None, "NETWORK-CONFIG;1": None})
    meta = yaml.safe_load(files["META-DATA;1"])
    user_text = files["USER-DATA;1"].decode()
    user = yaml.safe_load(user_text)
    net = yaml.safe_load(files["NETWORK-CONFIG;1"])
    if not user_text.startswith("#cloud-config\n"):
        say("user-data does not start with #cloud-config")
    if meta.get("local-hostname") != case["hostname"] or not meta.get("instance-id"):
        say(f"meta-data: {meta}")
    users = user.get("users") or [{}]
    if users[0].get("name") != case["user"] or case["key"] not in users[0].get("ssh_authorized_keys", []):
        say(f"user-data does not make {case['user']} with the lab's key")
    if users[0].get("sudo") != "ALL=(ALL) NOPASSWD:ALL":
        say("user-data gives no passwordless sudo")
    if not str(user.get("ssh_keys", {}).get("ed25519_private", "")).startswith("-----BEGIN OPENSSH PRIVATE KEY-----"):
        say("user-data carries no SSH host key")
    eths = (net or {}).get("ethernets", {})
    if net.get("version") != 2 or not any(e.get("dhcp4") is True and e.get("match", {}).get("macaddress") for e in eths.values()):
        say("network-config v2 has no DHCP NIC matched by MAC")
    prefix = sum(bin(int(x)).count("1") for x in case["netmask"].split("."))
    if not any(e.get("addresses") == [f"{case['ip']}/{prefix}"] and e.get("match", {}).get("macaddress") for e in eths.values()):
        say(f"network-config does not give {case['ip']}/{prefix} to a NIC matched by MAC")


def check(case):
    problems = []
    say = lambda msg: problems.append(f"{case['ks']}: {msg}")
    ks_bytes = open(case["ks"], "rb").read()

    r = subprocess.run(["ksvalidator", "-v", case["syntax"], case["ks"]], capture_output=True, text=True)
    if r.returncode != 0:
        say(f"ksvalidator -v {case['syntax']} failed: {r.stdout.strip()} {r.stderr.strip()}")

    h = makeVersion(case["syntax"])
    KickstartParser(h).readKickstart(case["ks"])
    for s in h.scripts:
        r = subprocess.run(["bash", "-n"], input=s.script, capture_output=True, text=True)
        if r.returncode != 0:
            say(f"bash -n on a script: {r.stderr.strip()}")
    if case.get("base"):
        check_base(case, say, h)
        check_image(say, case["iso"], "OEMDRV", {"KS.CFG;1": ks_bytes})
        return problems
    if case.get("seed"):
        check_seed(case, say)
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
    if case.get("iso"):
        check_image(say, case["iso"], "OEMDRV", {"KS.CFG;1": ks_bytes})
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
