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
    from pykickstart.constants import KS_SHUTDOWN, KS_MISSING_IGNORE, KS_SCRIPT_ONERROR, KS_SCRIPT_POST
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


def cloud_init(say, user_text, net_text, nat_mac, lab_mac, ip, prefix):
    """Real cloud-init (Debian's package) reads the seed: its schema on user-data, and its
    network-config parsed and rendered for RHEL (sysconfig, and NetworkManager), with the VM's
    two MACs as the interfaces cloud-init would find. cloud-init 22.4 has no schema for
    network-config; net-convert's parser (network_state) refuses an invalid one instead."""
    with tempfile.TemporaryDirectory() as d:
        user, net = os.path.join(d, "user-data"), os.path.join(d, "network-config")
        open(user, "w").write(user_text)
        open(net, "w").write(net_text)
        r = subprocess.run(["cloud-init", "schema", "--config-file", user], capture_output=True, text=True)
        if r.returncode != 0 or "error" in (r.stdout + r.stderr).lower():
            say(f"cloud-init schema refuses user-data: {(r.stdout + r.stderr).strip()}")
        for kind in ("sysconfig", "network-manager"):
            out = os.path.join(d, kind)
            # net-convert also reads this computer's /sys/class/net, where other tests' veths
            # come and go (a link gone half-way fails it): as root it runs in a network
            # namespace of its own, with a sysfs of that namespace (only `lo`).
            alone = ["unshare", "--net", "--mount", "sh", "-c", 'mount -t sysfs sysfs /sys && exec "$@"', "sh"] if os.geteuid() == 0 else []
            r = subprocess.run(
                alone + ["cloud-init", "devel", "net-convert", "-p", net, "-k", "yaml", "-D", "rhel", "-O", kind, "-d", out,
                 "-m", f"eth0,{nat_mac.lower()}", "-m", f"eth1,{lab_mac.lower()}"],
                capture_output=True, text=True)
            if r.returncode != 0:
                say(f"cloud-init devel net-convert -O {kind} failed: {r.stderr.strip()[-400:]}")
                continue
            if kind == "sysconfig":
                # One ifcfg file per NIC, bound to it by HWADDR (cloud-init names the NIC after
                # its network-config key and writes a udev rule for that name).
                scripts = os.path.join(out, "etc/sysconfig/network-scripts")
                ifcfgs = [open(os.path.join(scripts, f)).read() for f in sorted(os.listdir(scripts)) if f.startswith("ifcfg-")] if os.path.isdir(scripts) else []
                by_mac = lambda mac: next((t for t in ifcfgs if f"hwaddr={mac.lower()}" in t.lower()), "")
                eth0, eth1 = by_mac(nat_mac), by_mac(lab_mac)
                if len(ifcfgs) != 2:
                    say(f"sysconfig: {len(ifcfgs)} ifcfg files, not one per NIC: {ifcfgs}")
                if "BOOTPROTO=dhcp" not in eth0:
                    say(f"sysconfig: NIC1 ({nat_mac}) is not DHCP: {eth0!r}")
                mask = ".".join(str((0xFFFFFFFF << (32 - prefix) >> (24 - 8 * i)) & 0xFF) for i in range(4))
                if "BOOTPROTO=none" not in eth1 and "BOOTPROTO=static" not in eth1 or f"IPADDR={ip}" not in eth1 or (f"PREFIX={prefix}" not in eth1 and f"NETMASK={mask}" not in eth1):
                    say(f"sysconfig: NIC2 ({lab_mac}) is not static {ip}/{prefix}: {eth1!r}")
                if "GATEWAY" in eth1 or "DEFROUTE=yes" in eth1:
                    say(f"sysconfig: NIC2 has a gateway: {eth1!r}")
            else:
                conns = os.path.join(out, "etc/NetworkManager/system-connections")
                texts = [open(os.path.join(conns, f)).read() for f in sorted(os.listdir(conns))] if os.path.isdir(conns) else []
                lab = [t for t in texts if f"address1={ip}/{prefix}" in t]
                nat = [t for t in texts if "method=auto" in t and nat_mac.upper() in t.upper()]
                if len(lab) != 1 or lab_mac.upper() not in lab[0].upper() or "gateway" in lab[0] or "method=manual" not in lab[0]:
                    say(f"NetworkManager: no keyfile gives {ip}/{prefix} without a gateway to {lab_mac}: {texts}")
                if len(nat) != 1:
                    say(f"NetworkManager: no DHCP keyfile for {nat_mac}: {texts}")


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
    # The VM's MACs, as the node's kickstart binds them (`network --device=MAC`): NAT first.
    macs = [n.device for n in case["_handler"].network.network if n.device and ":" in n.device]
    if len(macs) != 2:
        say(f"the kickstart does not name both NICs by MAC: {macs}")
        return
    cloud_init(say, user_text, files["NETWORK-CONFIG;1"].decode(), macs[0], macs[1], case["ip"], prefix)


def fail_fast(say, h):
    """A package the ISO lacks stops the install (no --ignoremissing), every package %packages
    names is checked by an erroronfail %post, an %onerror script reports on the serial port,
    and no service is enabled by name but sshd (a missing unit fails the install)."""
    if h.packages.handleMissing == KS_MISSING_IGNORE:
        say("%packages --ignoremissing: a package the ISO lacks would be dropped silently")
    posts = [s for s in h.scripts if s.type == KS_SCRIPT_POST]
    if not any(s.errorOnFail and all(f" {p}" in s.script for p in h.packages.packageList) and "rpm -q" in s.script for s in posts):
        say(f"no %post --erroronfail checks every package of %packages ({h.packages.packageList})")
    if not any(s.type == KS_SCRIPT_ONERROR and "/dev/ttyS0" in s.script for s in h.scripts):
        say("no %onerror script reports to the serial port")
    if h.services.enabled != ["sshd"]:
        say(f"services --enabled={','.join(h.services.enabled)}: only sshd (the packages enable their own units)")


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
    fail_fast(say, h)
    if case.get("base"):
        check_base(case, say, h)
        check_image(say, case["iso"], "OEMDRV", {"KS.CFG;1": ks_bytes})
        return problems
    if case.get("seed"):
        case["_handler"] = h
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
    if not shutil.which("cloud-init"):
        sys.exit("cloud-init is not installed: `apt-get install cloud-init` (tests/run.sh installs it)")
    cases = json.load(open(sys.argv[1]))
    problems = [p for c in cases for p in check(c)]
    for p in problems:
        print(p)
    print(f"checked {len(cases)} kickstarts: {len(problems)} problems")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
