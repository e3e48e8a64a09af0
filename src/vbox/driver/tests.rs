use std::path::Path;

use super::*;

const V61: Version = Version { major: 6, minor: 1, patch: 50 };
const V70: Version = Version { major: 7, minor: 0, patch: 20 };
const V71: Version = Version { major: 7, minor: 1, patch: 4 };

fn hw() -> Hardware {
    Hardware { cpus: 2, memory_mib: 2048, mac_nat: "080027AA0001".into(), mac_hostonly: "080027AA0002".into(), hostonly: "vboxnet0".into(), description: "lab:/srv/.lab/spark".into() }
}

fn line(v: &[String]) -> String {
    v.join(" ")
}

#[test]
fn versions() {
    assert_eq!(parse_version("7.1.4r165100\n").expect("v"), V71);
    assert_eq!(parse_version("7.0.20_Ubuntur163906\n").expect("v"), V70);
    assert_eq!(parse_version("6.1.50r161033").expect("v"), V61);
    let warned = "WARNING: The vboxdrv kernel module is not loaded. Either there is no module\n         available\n5.2.6r120293\n";
    assert!(matches!(parse_version(warned), Err(Error::Preflight { .. })));
    assert!(parse_version("").is_err());
}

#[test]
fn createvm_adds_the_platform_only_on_7_1() {
    let base = Path::new("/srv/.lab/spark/vms");
    let want = "createvm --name lab-spark-node1 --groups /lab-spark --ostype RedHat_64 --basefolder /srv/.lab/spark/vms --register";
    assert_eq!(line(&Driver::for_version(V61, HostOs::Linux).argv_createvm("lab-spark-node1", "/lab-spark", "RedHat_64", base)), want);
    assert_eq!(line(&Driver::for_version(V70, HostOs::Linux).argv_createvm("lab-spark-node1", "/lab-spark", "RedHat_64", base)), want);
    assert_eq!(
        line(&Driver::for_version(V71, HostOs::Linux).argv_createvm("lab-spark-node1", "/lab-spark", "RedHat_64", base)),
        format!("{want} --platform-architecture x86")
    );
}

#[test]
fn modifyvm_audio_and_hostonly_differ_by_version_and_host() {
    let common = "modifyvm lab-spark-node1 --memory 2048 --cpus 2 --ioapic on --firmware bios --rtcuseutc on --boot1 disk --boot2 dvd --boot3 none --boot4 none --graphicscontroller vmsvga --vram 16 --mouse ps2 --usb off";
    let nics_if = "--nic1 nat --nictype1 82540EM --cableconnected1 on --macaddress1 080027AA0001 --nic2 hostonly --hostonlyadapter2 vboxnet0 --nictype2 82540EM --cableconnected2 on --macaddress2 080027AA0002 --description lab:/srv/.lab/spark";
    assert_eq!(line(&Driver::for_version(V61, HostOs::Linux).argv_modifyvm("lab-spark-node1", &hw())), format!("{common} --audio none {nics_if}"));
    assert_eq!(line(&Driver::for_version(V71, HostOs::Linux).argv_modifyvm("lab-spark-node1", &hw())), format!("{common} --audio-enabled off {nics_if}"));
    let mac = line(&Driver::for_version(V71, HostOs::Macos).argv_modifyvm("lab-spark-node1", &hw()));
    assert!(mac.contains("--nic2 hostonlynet --host-only-net2 vboxnet0"), "{mac}");
    let mac61 = line(&Driver::for_version(V61, HostOs::Macos).argv_modifyvm("lab-spark-node1", &hw()));
    assert!(mac61.contains("--nic2 hostonly --hostonlyadapter2 vboxnet0"), "{mac61}");
}

#[test]
fn media_and_lifecycle_argv() {
    for v in [V61, V70, V71] {
        let d = Driver::for_version(v, HostOs::Linux);
        assert_eq!(line(&d.argv_createdisk(Path::new("/vms/n1.vdi"), 20480)), "createmedium disk --filename /vms/n1.vdi --size 20480 --format VDI --variant Standard");
        assert_eq!(line(&d.argv_storagectl("n1")), "storagectl n1 --name SATA --add sata --controller IntelAhci --portcount 3 --bootable on");
        assert_eq!(line(&d.argv_attach("n1", 1, "dvddrive", "/isos/cs9.iso")), "storageattach n1 --storagectl SATA --port 1 --device 0 --type dvddrive --medium /isos/cs9.iso");
        assert_eq!(line(&d.argv_attach("n1", 2, "dvddrive", "emptydrive")), "storageattach n1 --storagectl SATA --port 2 --device 0 --type dvddrive --medium emptydrive");
        assert_eq!(line(&d.argv_startvm("n1")), "startvm n1 --type headless");
        assert_eq!(line(&d.argv_controlvm("n1", "acpipowerbutton")), "controlvm n1 acpipowerbutton");
        assert_eq!(line(&d.argv_showvminfo("n1")), "showvminfo n1 --machinereadable");
        assert_eq!(line(&d.argv_unregister("n1")), "unregistervm n1 --delete");
        assert_eq!(line(&d.argv_hostonly_create()), "hostonlyif create");
        assert_eq!(line(&d.argv_hostonly_ipconfig("vboxnet0", "192.168.56.1", "255.255.255.0")), "hostonlyif ipconfig vboxnet0 --ip 192.168.56.1 --netmask 255.255.255.0");
        assert_eq!(line(&d.argv_dhcp_disable("vboxnet0")), "dhcpserver modify --ifname vboxnet0 --disable");
    }
    assert_eq!(
        line(&Driver::for_version(V71, HostOs::Macos).argv_hostonlynet_add("lab-spark", "255.255.255.0", "192.168.56.1", "192.168.56.1")),
        "hostonlynet add --name lab-spark --netmask 255.255.255.0 --lower-ip 192.168.56.1 --upper-ip 192.168.56.1 --enable"
    );
}

#[test]
fn reads_vboxmanage_output() {
    let info = "name=\"lab-x-n1\"\nEncryption:     disabled\nmemory=2048\nVMState=\"poweroff\"\n\"SATA-1-0\"=\"/isos/a \\\"b\\\".iso\"\ndescription=\"C:\\\\VMs\"\n";
    let m = parse_machinereadable(info);
    assert_eq!(m["name"], "lab-x-n1");
    assert_eq!(m["memory"], "2048");
    assert_eq!(m["SATA-1-0"], "/isos/a \"b\".iso");
    assert_eq!(m["description"], "C:\\VMs");
    assert!(!m.contains_key("Encryption:     disabled"));
    assert_eq!(parse_list_vms("\"lab-x-n1\" {9f69463b-2426-49be-8ad2-cb609e20953b}\n\"my \"vm\" {1}\n"), vec![
        ("lab-x-n1".to_string(), "9f69463b-2426-49be-8ad2-cb609e20953b".to_string()),
        ("my \"vm".to_string(), "1".to_string())
    ]);
    let ifs = parse_blocks("Name:            vboxnet0\nGUID:            786f\nDHCP:            Disabled\nIPAddress:       192.168.56.1\nNetworkMask:     255.255.255.0\n\nName:            vboxnet1\nIPAddress:       192.168.57.1\n\n");
    assert_eq!(ifs.len(), 2);
    assert_eq!(ifs[0]["IPAddress"], "192.168.56.1");
}

#[test]
fn errors_are_classified_with_hints() {
    let lock = "VBoxManage: error: The machine 'x' is already locked for a session (or being unlocked)\nVBoxManage: error: Details: code VBOX_E_INVALID_OBJECT_STATE (0x80bb0007)";
    assert_eq!(classify(lock), Failure::Transient);
    assert_eq!(classify("VBoxManage: error: Could not find a registered machine named 'x'\nVBoxManage: error: Details: code VBOX_E_OBJECT_NOT_FOUND (0x80bb0001)"), Failure::NotFound);
    assert_eq!(classify("VBoxManage: error: VT-x is not available (VERR_VMX_NO_VMX)"), Failure::Final);
    assert!(hint_for("VBoxManage: error: VT-x is not available (VERR_VMX_NO_VMX)").is_some_and(|h| h.contains("VT-x")));
    assert!(hint_for("VBoxManage: error: Code E_ACCESSDENIED (0x80070005) - Access denied").is_some_and(|h| h.contains("networks.conf")));
    assert!(hint_for("failed to open /dev/vboxnetctl: No such file or directory").is_some_and(|h| h.contains("vboxconfig")));
    assert!(hint_for("VBoxManage: error: Machine settings file '/x/x.vbox' already exists").is_some_and(|h| h.contains("rename the lab")));
    assert!(hint_for(lock).is_some_and(|h| h.contains("holds the VM")));
}
