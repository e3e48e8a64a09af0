use super::*;

fn bound(dir: &Path, name: &str) -> UnixDatagram {
    let s = UnixDatagram::bind(dir.join(name)).expect("bind");
    s.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
    s
}

/// A switch serving its own folder (on a thread, for the test's life).
fn serving() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("net");
    make_dir(&dir).expect("dir");
    let switch = bind(&dir).expect("switch");
    let d = dir.clone();
    std::thread::spawn(move || serve(&switch, &d));
    (tmp, dir)
}

#[test]
fn a_frame_from_one_node_reaches_every_other_node_and_not_its_sender() {
    let (_tmp, dir) = serving();
    let (master, node1, node2) = (bound(&dir, "master.sock"), bound(&dir, "node1.sock"), bound(&dir, "node2.sock"));
    master.send_to(b"arp who-has node1", dir.join(SWITCH_SOCK)).expect("send");
    let mut buf = [0u8; 64];
    for n in [&node1, &node2] {
        let (len, from) = n.recv_from(&mut buf).expect("the frame arrives");
        assert_eq!(&buf[..len], b"arp who-has node1");
        assert_eq!(from.as_pathname(), Some(dir.join(SWITCH_SOCK).as_path()));
    }
    master.set_read_timeout(Some(Duration::from_millis(300))).expect("timeout");
    assert!(master.recv_from(&mut buf).is_err(), "the sender got its own frame back");
    // The answer goes back the same way.
    node1.send_to(b"arp reply", dir.join(SWITCH_SOCK)).expect("send");
    let (len, _) = master.recv_from(&mut buf).expect("the reply arrives");
    assert_eq!(&buf[..len], b"arp reply");
}

#[test]
fn a_node_that_does_not_read_never_stops_the_others() {
    let (_tmp, dir) = serving();
    let (master, _deaf, node2) = (bound(&dir, "master.sock"), bound(&dir, "deaf.sock"), bound(&dir, "node2.sock"));
    let mut buf = [0u8; 64];
    // Far more frames than a socket's queue holds: the deaf node's queue fills, node2 gets each.
    for i in 0..2000u32 {
        master.send_to(&i.to_be_bytes(), dir.join(SWITCH_SOCK)).expect("send");
        let (len, _) = node2.recv_from(&mut buf).expect("node2 still gets frames");
        assert_eq!(&buf[..len], &i.to_be_bytes());
    }
}

#[test]
fn the_folder_is_the_labs_alone_and_fits_a_unix_socket_name() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("net");
    std::fs::create_dir(&dir).expect("dir");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    make_dir(&dir).expect("made private");
    assert_eq!(std::fs::metadata(&dir).expect("meta").permissions().mode() & 0o777, 0o700);
    let deep = PathBuf::from(format!("/home/joão/{}/.lab/spark/qemu", "Área de Trabalho/".repeat(4)));
    let d = dir_for(&deep);
    assert!(d.starts_with(std::env::temp_dir()) && node_sock(&d, "node1").as_os_str().len() < 100, "{}", d.display());
    assert_eq!(dir_for(Path::new("/l/.lab/s/qemu")), PathBuf::from("/l/.lab/s/qemu/net"));
}

#[test]
fn only_the_switch_of_this_folder_is_the_labs() {
    let argv = |xs: &[&str]| xs.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let ps = vec![
        (7, argv(&["/usr/bin/lab", COMMAND, "/l/.lab/s/qemu/net"])),
        (8, argv(&["/usr/bin/lab", COMMAND, "/other/.lab/s/qemu/net"])),
        (9, argv(&["/usr/bin/lab", "up"])),
        (10, argv(&["/usr/bin/lab", COMMAND, "/l/.lab/s/qemu/net2"])),
        // macOS's `ps` splits a folder with spaces.
        (11, argv(&["/usr/local/bin/lab", COMMAND, "/Users/joão/Área", "de", "Trabalho/.lab/s/qemu/net"])),
    ];
    assert_eq!(ours(Path::new("/l/.lab/s/qemu/net"), &ps), vec![7]);
    assert_eq!(ours(Path::new("/Users/joão/Área de Trabalho/.lab/s/qemu/net"), &ps), vec![11]);
}
