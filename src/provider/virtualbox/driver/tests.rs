use std::net::Ipv4Addr;
use std::path::Path;
use std::sync::Arc;

use super::*;
use crate::provider::virtualbox::fake::FakeVBox;

const V61: Version = Version { major: 6, minor: 1, patch: 50 };
const V70: Version = Version { major: 7, minor: 0, patch: 20 };
const V71: Version = Version { major: 7, minor: 1, patch: 4 };
const V72: Version = Version { major: 7, minor: 2, patch: 2 };

fn hw(arch: Arch) -> Hardware {
    Hardware {
        cpus: 2,
        memory_mib: 2048,
        mac_nat: "080027AA0001".into(),
        mac_hostonly: "080027AA0002".into(),
        hostonly: "vboxnet0".into(),
        description: "lab:/srv/.lab/spark".into(),
        arch,
    }
}

fn driver(v: Version, host: HostOs) -> Driver {
    Driver::with(Arc::new(FakeVBox::new()), v, host, Arch::X86_64)
}

fn line(v: &[String]) -> String {
    v.join(" ")
}

#[test]
fn versions() {
    assert_eq!(parse_version("7.1.4r165100\n").expect("v"), V71);
    assert_eq!(parse_version("7.0.20_Ubuntur163906\n").expect("v"), V70);
    assert_eq!(parse_version("6.1.50r161033").expect("v"), V61);
    assert_eq!(parse_version("7.2.2r170484\r\n").expect("v"), V72);
    let warned = "WARNING: The vboxdrv kernel module is not loaded. Either there is no module\n         available\n5.2.6r120293\n";
    assert!(matches!(parse_version(warned), Err(Error::Preflight { .. })));
    assert!(parse_version("").is_err());
    assert!(!SUPPORTED.contains("7.1 or"), "hints must not list an old range of versions");
}

#[test]
fn createvm_names_its_uuid_and_the_platform_from_7_1() {
    let base = Path::new("/srv/.lab/spark/vms");
    let want = "createvm --name lab-spark-node1 --uuid u-1 --groups /lab-spark --ostype RedHat_64 --basefolder /srv/.lab/spark/vms --register";
    for v in [V61, V70] {
        assert_eq!(line(&driver(v, HostOs::Linux).argv_createvm("lab-spark-node1", "u-1", "/lab-spark", "RedHat_64", base, Arch::X86_64)), want);
    }
    for v in [V71, V72] {
        assert_eq!(
            line(&driver(v, HostOs::Linux).argv_createvm("lab-spark-node1", "u-1", "/lab-spark", "RedHat_64", base, Arch::X86_64)),
            format!("{want} --platform-architecture x86")
        );
        assert!(line(&driver(v, HostOs::Macos).argv_createvm("n", "u", "/g", "RedHat_64", base, Arch::Aarch64)).ends_with("--platform-architecture arm"));
    }
}

#[test]
fn modifyvm_differs_by_version_host_and_guest_architecture() {
    let common = "modifyvm lab-spark-node1 --memory 2048 --cpus 2 --ioapic on --firmware bios --rtcuseutc on --boot1 dvd --boot2 disk --boot3 none --boot4 none --graphicscontroller vmsvga --vram 16 --mouse ps2 --usb off";
    let nics_if = "--nic1 nat --nictype1 82540EM --cableconnected1 on --macaddress1 080027AA0001 --nic2 hostonly --hostonlyadapter2 vboxnet0 --nictype2 82540EM --cableconnected2 on --macaddress2 080027AA0002 --description lab:/srv/.lab/spark";
    assert_eq!(line(&driver(V61, HostOs::Linux).argv_modifyvm("lab-spark-node1", &hw(Arch::X86_64))), format!("{common} --audio none {nics_if}"));
    assert_eq!(line(&driver(V71, HostOs::Linux).argv_modifyvm("lab-spark-node1", &hw(Arch::X86_64))), format!("{common} --audio-enabled off {nics_if}"));
    let mac = line(&driver(V71, HostOs::Macos).argv_modifyvm("lab-spark-node1", &hw(Arch::X86_64)));
    assert!(mac.contains("--nic2 hostonlynet --host-only-net2 vboxnet0"), "{mac}");
    let mac61 = line(&driver(V61, HostOs::Macos).argv_modifyvm("lab-spark-node1", &hw(Arch::X86_64)));
    assert!(mac61.contains("--nic2 hostonly --hostonlyadapter2 vboxnet0"), "{mac61}");
    let arm = line(&driver(V72, HostOs::Macos).argv_modifyvm("n", &hw(Arch::Aarch64)));
    for want in ["--chipset armv8virtual", "--firmware efi", "--nictype2 82540EM"] {
        assert!(arm.contains(want), "{want} missing: {arm}");
    }
    for x86_only in ["--ioapic", "--firmware bios", "ps2"] {
        assert!(!arm.contains(x86_only), "{x86_only} is x86-only: {arm}");
    }
}

#[test]
fn only_this_hosts_architecture_runs() {
    let mac_arm = |v| Driver::with(Arc::new(FakeVBox::new()), v, HostOs::Macos, Arch::Aarch64);
    assert!(mac_arm(V71).runs(Arch::Aarch64));
    assert!(!mac_arm(V71).runs(Arch::X86_64));
    assert!(!mac_arm(V70).runs(Arch::Aarch64));
    assert!(driver(V61, HostOs::Windows).runs(Arch::X86_64));
    assert!(!driver(V72, HostOs::Linux).runs(Arch::Aarch64));
}

#[test]
fn media_argv() {
    for v in [V61, V70, V71, V72] {
        let d = driver(v, HostOs::Linux);
        assert_eq!(
            line(&d.argv_createdisk(Path::new("/vms/n1.vdi"), 20480)),
            "createmedium disk --filename /vms/n1.vdi --size 20480 --format VDI --variant Standard"
        );
        assert_eq!(line(&d.argv_storagectl("n1", Arch::X86_64)), "storagectl n1 --name SATA --add sata --controller IntelAhci --portcount 3 --bootable on");
        assert_eq!(
            line(&d.argv_attach("n1", Arch::X86_64, 1, &Medium::Image("/isos/cs9.iso".into()), false)),
            "storageattach n1 --storagectl SATA --port 1 --device 0 --type dvddrive --medium /isos/cs9.iso"
        );
        assert_eq!(
            line(&d.argv_attach("n1", Arch::X86_64, 2, &Medium::Empty, false)),
            "storageattach n1 --storagectl SATA --port 2 --device 0 --type dvddrive --medium emptydrive"
        );
    }
    let arm = driver(V72, HostOs::Macos);
    assert_eq!(line(&arm.argv_storagectl("n1", Arch::Aarch64)), "storagectl n1 --name VirtIO --add virtio --controller VirtIO --portcount 3 --bootable on");
    assert!(line(&arm.argv_attach("n1", Arch::Aarch64, 0, &Medium::Empty, false)).contains("--storagectl VirtIO"));
}

#[test]
fn where_vboxmanage_is_on_each_host() {
    let env = |vars: &'static [(&'static str, &'static str)]| move |k: &str| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| (*v).to_string());
    let win = env(&[("PATH", "C:\\Windows;C:\\Windows\\System32"), ("VBOX_MSI_INSTALL_PATH", "D:\\Apps\\VirtualBox\\")]);
    let found = find(&win, &|p: &Path| p.to_string_lossy() == "D:\\Apps\\VirtualBox\\VBoxManage.exe", HostOs::Windows);
    assert_eq!(found.map(|p| p.to_string_lossy().into_owned()).as_deref(), Some("D:\\Apps\\VirtualBox\\VBoxManage.exe"));
    let win_default = env(&[("ProgramFiles", "C:\\Program Files")]);
    let found = find(&win_default, &|p: &Path| p.to_string_lossy() == "C:\\Program Files\\Oracle\\VirtualBox\\VBoxManage.exe", HostOs::Windows);
    assert!(found.is_some());
    let mac = env(&[("PATH", "/usr/bin:/bin")]);
    let found = find(&mac, &|p: &Path| p == Path::new("/Applications/VirtualBox.app/Contents/MacOS/VBoxManage"), HostOs::Macos);
    assert_eq!(found.as_deref(), Some(Path::new("/Applications/VirtualBox.app/Contents/MacOS/VBoxManage")));
    let over = env(&[("VBOXMANAGE", "/opt/vb/VBoxManage"), ("PATH", "/usr/bin")]);
    assert_eq!(find(&over, &|_: &Path| true, HostOs::Linux).as_deref(), Some(Path::new("/opt/vb/VBoxManage")));
    assert_eq!(find(&mac, &|_: &Path| false, HostOs::Linux), None);
}

#[test]
fn runs_under_a_utf8_locale() {
    assert_eq!(utf8_locale(HostOs::Linux, &|p: &Path| p == Path::new("/usr/lib/locale/C.utf8")), "C.UTF-8");
    assert_eq!(utf8_locale(HostOs::Linux, &|p: &Path| p == Path::new("/usr/lib/locale/locale-archive")), "en_US.UTF-8");
    assert_eq!(utf8_locale(HostOs::Macos, &|_: &Path| false), "en_US.UTF-8");
}

#[test]
fn reads_machine_readable_output() {
    let info = "name=\"lab-x-n1\"\nEncryption:     disabled\nplatformArchitecture=\"ARM\"\nmemory=2048\nVMState=\"gurumeditation\"\nCfgFile=\"C:\\\\Users\\\\João\\\\VMs\\\\n1\\\\n1.vbox\"\nstoragecontrollername0=\"SATA\"\nstoragecontrollerportcount0=\"3\"\n\"SATA-0-0\"=\"/vms/n1.vdi\"\n\"SATA-1-0\"=\"/isos/a \\\"b\\\".iso\"\n\"SATA-2-0\"=\"emptydrive\"\nnic2=\"hostonlynetwork\"\nhostonly-network2=\"lab-x\"\ndescription=\"lab:/srv\"\nSnapshotName=\"clean\"\nSnapshotName-1=\"after\"\nCurrentSnapshotName=\"after\"\n";
    let v = vm_info(&parse_machinereadable(info));
    assert_eq!(v.name, "lab-x-n1");
    assert_eq!(v.state, VmState::Stuck);
    assert_eq!(v.arch, Arch::Aarch64);
    assert_eq!(v.port(1), Medium::Image("/isos/a \"b\".iso".into()));
    assert_eq!(v.port(2), Medium::Empty);
    assert_eq!(v.nics[&2].hostonly, "lab-x");
    assert_eq!(v.cfg_file, Path::new("C:\\Users\\João\\VMs\\n1\\n1.vbox"));
    assert_eq!(v.snapshots, vec!["clean", "after"]);
    assert_eq!(v.current_snapshot.as_deref(), Some("after"));
    assert_eq!(
        parse_list_vms("\"lab-x-n1\" {9f69463b-2426-49be-8ad2-cb609e20953b}\n\"my \"vm\" {1}\n"),
        vec![("lab-x-n1".to_string(), "9f69463b-2426-49be-8ad2-cb609e20953b".to_string()), ("my \"vm".to_string(), "1".to_string())]
    );
}

#[test]
fn lists_are_read_by_position_whatever_the_language() {
    let en = "Name:            vboxnet0\nGUID:            786f\nDHCP:            Disabled\nIPAddress:       192.168.56.1\nNetworkMask:     255.255.255.0\nIPV6Address:     fe80::800:27ff:fe00:0\n\nName:            VirtualBox Host-Only Ethernet Adapter #2\nGUID:            1\nDHCP:            Enabled\nIPAddress:       192.168.57.1\nNetworkMask:     255.255.255.0\n\n";
    let pt = en.replace("Name:      ", "Nome:      ").replace("IPAddress:  ", "Endereço IP:").replace("Disabled", "Desabilitado");
    for text in [en, pt.as_str()] {
        let ifs = parse_hostonly(text, false);
        assert_eq!(ifs.len(), 2);
        assert_eq!(ifs[0].ip, Some(Ipv4Addr::new(192, 168, 56, 1)));
        assert_eq!(ifs[1].name, "VirtualBox Host-Only Ethernet Adapter #2");
    }
    let nets = "Name:            lab-x\nGUID:            1\nState:           Enabled\nNetworkMask:     255.255.255.0\nLowerIP:         192.168.56.1\nUpperIP:         192.168.56.1\nVBoxNetworkName: hostonly-lab-x\n\n";
    assert_eq!(parse_hostonly(nets, true)[0].ip, Some(Ipv4Addr::new(192, 168, 56, 1)));
    // As VirtualBox prints it: a blank line after each GUID, inside the record.
    let real = "Name:            lab-x\nGUID:            1\n\nState:           Enabled\nNetworkMask:     255.255.255.0\nLowerIP:         192.168.56.1\nUpperIP:         192.168.56.1\nVBoxNetworkName: hostonly-lab-x\n\n\
                Name:            other\nGUID:            2\n\nState:           Disabled\nNetworkMask:     255.255.0.0\nLowerIP:         10.9.0.1\nUpperIP:         10.9.0.9\nVBoxNetworkName: hostonly-other\n\n";
    let nets = parse_hostonly(real, true);
    assert_eq!(nets.len(), 2, "{nets:?}");
    assert_eq!((nets[0].name.as_str(), nets[0].ip, nets[0].mask), ("lab-x", Some(Ipv4Addr::new(192, 168, 56, 1)), Some(Ipv4Addr::new(255, 255, 255, 0))));
    assert_eq!((nets[1].name.as_str(), nets[1].ip), ("other", Some(Ipv4Addr::new(10, 9, 0, 1))));
    let dhcp = "NetworkName:    HostInterfaceNetworking-vboxnet0\nDhcpd IP:       192.168.56.100\nEnabled:        Yes\n\nNetworkName:    HostInterfaceNetworking-vboxnet1\nEnabled:        Não\n\n";
    let d = parse_dhcp(dhcp);
    assert_eq!(d["HostInterfaceNetworking-vboxnet0"], Some(true));
    assert_eq!(d["HostInterfaceNetworking-vboxnet1"], None, "an answer lab cannot read is not taken for yes or no");
}

#[test]
fn errors_are_classified_by_code_with_hints() {
    let lock = "VBoxManage: error: A máquina 'x' já está bloqueada\nVBoxManage: error: Details: code VBOX_E_INVALID_OBJECT_STATE (0x80bb0007)";
    assert_eq!(classify(lock), Failure::Transient);
    assert_eq!(
        classify("VBoxManage: error: Não foi possível encontrar 'x'\nVBoxManage: error: Details: code VBOX_E_OBJECT_NOT_FOUND (0x80bb0001)"),
        Failure::NotFound
    );
    assert_eq!(classify("VBoxManage: error: VT-x is not available (VERR_VMX_NO_VMX)"), Failure::Final);
    assert!(hint_for("VERR_VMX_NO_VMX").is_some_and(|h| h.contains("VT-x")));
    assert!(hint_for("Code E_ACCESSDENIED (0x80070005)").is_some_and(|h| h.contains("networks.conf")));
    assert!(hint_for("failed to open /dev/vboxnetctl").is_some_and(|h| h.contains("vboxconfig")));
    assert!(hint_for("code VBOX_E_FILE_ERROR (0x80bb0004)").is_some_and(|h| h.contains("rename the lab")));
    assert!(hint_for("VBOX_E_PLATFORM_ARCH_NOT_SUPPORTED").is_some_and(|h| h.contains("Apple Silicon")));
    assert!(hint_for("VERR_NO_TRANSLATION").is_some_and(|h| h.contains("UTF-8")));
    assert!(hint_for(lock).is_some_and(|h| h.contains("holds the VM")));
}

#[test]
fn against_the_fake_a_vm_is_made_read_and_removed() {
    let fake = Arc::new(FakeVBox::new());
    let d = Driver::with(fake.clone(), V71, HostOs::Linux, Arch::X86_64);
    assert_eq!(d.vm("n1").expect("query"), None);
    d.create_vm("n1", "u-1", "/lab-x", "RedHat_64", Path::new("/vms"), Arch::X86_64).expect("create");
    d.configure("n1", &hw(Arch::X86_64)).expect("modify");
    d.add_storage("n1", Arch::X86_64).expect("sata");
    d.attach("n1", Arch::X86_64, 0, &Medium::Image("/vms/lab-x/n1/n1.vdi".into()), true).expect("disk");
    let v = d.vm("n1").expect("query").expect("exists");
    assert_eq!(v.uuid, "u-1");
    assert_eq!(v.folder(), Path::new("/vms/lab-x/n1"), "VMs of a group live in a folder named for the group");
    assert_eq!(v.description, "lab:/srv/.lab/spark");
    assert_eq!(v.port(0), Medium::Image("/vms/lab-x/n1/n1.vdi".into()));
    assert_eq!(v.port(1), Medium::None);
    // A lock lingering after a power-off is waited out.
    fake.world.lock().expect("lock").lock_once = Some("modifyvm n1".into());
    d.configure("n1", &hw(Arch::X86_64)).expect("retried");
    assert_eq!(fake.calls("modifyvm n1"), 3);
    d.delete_vm("n1").expect("delete");
    assert_eq!(d.list_vms().expect("list"), vec![]);
}

#[test]
fn a_new_host_only_interface_is_found_by_its_name_in_any_language() {
    let fake = Arc::new(FakeVBox::new());
    fake.world.lock().expect("lock").translated = true;
    let d = Driver::with(fake.clone(), V72, HostOs::Linux, Arch::X86_64);
    let first = d.create_hostonly(Ipv4Addr::new(192, 168, 60, 1), Ipv4Addr::new(255, 255, 255, 0), "lab-x", &[]).expect("create");
    assert_eq!(first, "vboxnet0");
    d.configure_hostonly(&first, Ipv4Addr::new(192, 168, 60, 1), Ipv4Addr::new(255, 255, 255, 0)).expect("ipconfig");
    let h = d.hostonly().expect("list");
    assert_eq!(h[0].ip, Some(Ipv4Addr::new(192, 168, 60, 1)));
    assert_eq!(d.dhcp_enabled("vboxnet0").expect("dhcp"), None, "translated yes/no is not guessed");
    fake.world.lock().expect("lock").translated = false;
    assert_eq!(d.dhcp_enabled("vboxnet0").expect("dhcp"), Some(true));
    d.set_dhcp("vboxnet0", false).expect("off");
    assert_eq!(d.dhcp_enabled("vboxnet0").expect("dhcp"), Some(false));
}

#[test]
fn state_change_times_are_read_as_utc() {
    let t = parse_utc("2026-11-24T09:15:02.500000000").expect("time");
    assert_eq!(t.duration_since(std::time::UNIX_EPOCH).expect("after").as_millis(), 1_795_511_702_500);
    assert_eq!(parse_utc("1970-01-01T00:00:00.000000000"), Some(std::time::UNIX_EPOCH));
    assert_eq!(parse_utc("2000-03-01T00:00:00"), Some(std::time::UNIX_EPOCH + Duration::from_secs(951_868_800)));
    assert_eq!(parse_utc("garbage"), None);
    assert_eq!(parse_utc("2026-13-01T00:00:00"), None);
}

#[test]
fn wsl_is_told_to_use_the_windows_build() {
    let none = |_: &str| None;
    let wsl2 = wsl_problem("5.15.153.1-microsoft-standard-WSL2", &none).expect("WSL 2 is refused");
    assert!(wsl2.to_string().contains("WSL"), "{wsl2}");
    let Error::Preflight { fix, .. } = &wsl2 else { panic!("{wsl2:?}") };
    assert!(fix.contains("lab.exe") && fix.contains("PowerShell"), "{fix}");
    assert!(wsl_problem("4.4.0-19041-Microsoft", &none).is_some(), "WSL 1");
    assert!(wsl_problem("6.1.0-26-amd64", &|k: &str| (k == "WSL_DISTRO_NAME").then(|| "Ubuntu".to_string())).is_some());
    assert!(wsl_problem("6.1.0-26-amd64", &none).is_none(), "plain Linux is not WSL");
}

/// Answers every call with fixed bytes, as VBoxManage on a Portuguese Windows writes them to a
/// pipe: `showvminfo` in code page 1252.
struct Cp1252(Vec<u8>);

impl Runner for Cp1252 {
    fn run_raw(&self, _: &crate::proc::Cmd) -> Result<crate::proc::RawOutput> {
        Ok(crate::proc::RawOutput { code: Some(0), stdout: self.0.clone(), stderr: Vec::new() })
    }
}

#[test]
fn output_is_read_in_the_code_page_vboxmanage_wrote_it_in() {
    // `C:\Users\João\Área de Trabalho\x.vdi` in code page 1252: ã is E3, Á is C1.
    let mut bytes = b"\"SATA-0-0\"=\"C:\\Users\\Jo".to_vec();
    bytes.extend([0xE3]);
    bytes.extend(b"o\\");
    bytes.extend([0xC1]);
    bytes.extend(b"rea de Trabalho\\x.vdi\"\r\n");
    let d = Driver::with(Arc::new(Cp1252(bytes.clone())), V71, HostOs::Windows, Arch::X86_64);
    // Read as UTF-8 (what lab did), the path is not the one lab wrote.
    assert!(d.run(&["showvminfo".into()]).expect("runs").contains('\u{FFFD}'));
    let d = Driver::with(Arc::new(Cp1252(bytes)), V71, HostOs::Windows, Arch::X86_64).reading(encoding_rs::WINDOWS_1252);
    assert_eq!(d.run(&["showvminfo".into()]).expect("runs"), "\"SATA-0-0\"=\"C:\\Users\\João\\Área de Trabalho\\x.vdi\"\n");
}

#[test]
fn the_encoding_is_the_ansi_code_page_on_windows_and_utf8_elsewhere() {
    assert_eq!(output_encoding(HostOs::Windows, None, &|| Some(1252)), encoding_rs::WINDOWS_1252);
    // The system-wide "Unicode UTF-8" option: ACP 65001.
    assert_eq!(output_encoding(HostOs::Windows, None, &|| Some(65001)), encoding_rs::UTF_8);
    assert_eq!(output_encoding(HostOs::Windows, None, &|| None), encoding_rs::UTF_8);
    assert_eq!(output_encoding(HostOs::Linux, None, &|| Some(1252)), encoding_rs::UTF_8);
    assert_eq!(output_encoding(HostOs::Macos, None, &|| Some(1252)), encoding_rs::UTF_8);
    assert_eq!(output_encoding(HostOs::Linux, Some("1252"), &|| None), encoding_rs::WINDOWS_1252);
    assert_eq!(output_encoding(HostOs::Windows, Some("932"), &|| Some(1252)), encoding_rs::SHIFT_JIS);
}

/// Under Wine the registry answers like Windows': an ANSI code page is found.
#[cfg(windows)]
#[test]
fn windows_has_an_ansi_code_page() {
    assert!(ansi_codepage().is_some_and(|p| p > 0), "no ACP in the registry");
}

#[test]
fn the_guest_type_is_one_this_virtualbox_has() {
    // `list ostypes` of 7.1.4 (Global.cpp of October 2024): no Red Hat on ARM.
    let v714 = "ID:          Other_arm64\nDescription: Other/Unknown (ARM 64-bit)\n\nID:          Oracle9_arm64\nDescription: Oracle Linux 9.x (ARM 64-bit)\n\nID:          Oracle_arm64\nDescription: Oracle Linux (ARM 64-bit)\n\nID:          RedHat_64\nDescription: Red Hat (64-bit)\n\n";
    let known = parse_ostypes(v714);
    assert_eq!(known, ["Other_arm64", "Oracle9_arm64", "Oracle_arm64", "RedHat_64"]);
    assert_eq!(pick_ostype("RedHat9_arm64", &known), "Oracle9_arm64");
    assert_eq!(pick_ostype("RedHat10_arm64", &known), "Oracle_arm64");
    assert_eq!(pick_ostype("RedHat_64", &known), "RedHat_64");
    // 7.1.18 and later know them; a translated list is read by place.
    let later = "Identificação:  RedHat9_arm64\nDescrição: Red Hat 9.x (ARM 64-bit)\n\n";
    assert_eq!(pick_ostype("RedHat9_arm64", &parse_ostypes(later)), "RedHat9_arm64");
    assert_eq!(pick_ostype("RedHat9_arm64", &[]), "RedHat9_arm64");
}
