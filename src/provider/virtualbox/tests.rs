//! The provider's decisions against the in-process VBoxManage: what it makes, what it keeps,
//! what it makes again, what it refuses.

use std::sync::Arc;

use super::driver::{Driver, HostOs, Medium, Version};
use super::fake::FakeVBox;
use super::observe::{Install, install_state};
use super::records::VmRecord;
use super::*;
use crate::download::Cached;
use crate::provider::Provider;
use crate::spec::{HostFacts, parse};
use crate::state::Keys;
use crate::steps::{Check, Options, Step};
use crate::ui::Silent;

/// Check, then apply when needed: what the runner does with one step.
fn converge(cx: &Cx<'_>, step: &dyn Step) -> Result<Outcome> {
    match step.check(cx)? {
        Check::Satisfied => Ok(Outcome::Satisfied),
        Check::Needed(_) | Check::InApply => step.apply(cx),
    }
}

/// The node's VM made and installed through its steps, as `lab up` does.
trait Up {
    fn ensure_vm(&self, cx: &Cx<'_>, node: &Node) -> Result<Outcome>;
    fn ensure_installed(&self, cx: &Cx<'_>, node: &Node) -> Result<Outcome>;
}

impl Up for VirtualBox {
    fn ensure_vm(&self, cx: &Cx<'_>, node: &Node) -> Result<Outcome> {
        converge(cx, super::steps::vm_created::step(self, cx.lab, node, Made::PerNode).as_ref())
    }
    fn ensure_installed(&self, cx: &Cx<'_>, node: &Node) -> Result<Outcome> {
        converge(cx, super::steps::os_installed::step(self, node).as_ref())
    }
}

fn booted(w: &World, yes: bool) {
    Records::update(&w.sd, |r| r.vms.get_mut("master").expect("recorded").booted = yes).expect("record");
}

struct World {
    _dir: tempfile::TempDir,
    lab: Lab,
    sd: StateDir,
    fake: Arc<FakeVBox>,
    vb: VirtualBox,
    rt: tokio::runtime::Runtime,
}

fn world() -> World {
    let dir = tempfile::tempdir().expect("tmp");
    let text = include_str!("../../../labs/spark.yaml");
    let lab = parse(&dir.path().join("lab.yaml"), text, &HostFacts::default()).expect("valid");
    let sd = StateDir::for_lab(&lab);
    let fake = Arc::new(FakeVBox::new());
    let d = Driver::with(fake.clone(), Version { major: 7, minor: 2, patch: 2 }, HostOs::Linux, driver::Arch::X86_64);
    let vb = VirtualBox::with_driver(d);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("rt");
    World { _dir: dir, lab, sd, fake, vb, rt }
}

impl World {
    fn cx(&self) -> Cx<'_> {
        self.cx_with(Options::default())
    }
    fn cx_with(&self, opts: Options) -> Cx<'_> {
        let client = self.sd.ensure_client_key(&self.lab).expect("key");
        let hosts = self.sd.ensure_host_keys(&self.lab).expect("host keys");
        let no_steps: &[Box<dyn Step>] = &[];
        let cx = Cx::new(&self.lab, &self.sd, &self.vb, &Silent, self.rt.handle().clone(), opts, no_steps).expect("cx").with_keys(Some(Keys { client, hosts }));
        let iso = self.sd.path().join("cs9.iso");
        std::fs::write(&iso, b"iso").expect("iso");
        self.vb.iso.set(Cached { path: iso, digest: "sha256-00".into() });
        cx
    }
    /// Runs `steps` through the runner, as a command does.
    fn run(&self, steps: &[Box<dyn Step + '_>]) -> Result<crate::runner::Summary> {
        let cx = Cx::new(&self.lab, &self.sd, &self.vb, &Silent, self.rt.handle().clone(), Options::default(), steps)?;
        crate::runner::run(&cx, steps)
    }
    fn master(&self) -> &Node {
        self.lab.master()
    }
}

#[test]
fn a_vm_is_made_once_installed_once_and_then_left_alone() {
    let w = world();
    let cx = w.cx();
    assert_eq!(w.vb.ensure_hostonly(&cx).expect("hostonly").1, Outcome::Applied);
    assert_eq!(w.vb.ensure_hostonly(&cx).expect("again").1, Outcome::Satisfied, "a DHCP server on lab's interface is turned off once");
    assert_eq!(w.vb.ensure_vm(&cx, w.master()).expect("create"), Outcome::Applied);
    assert_eq!(w.vb.ensure_vm(&cx, w.master()).expect("again"), Outcome::Satisfied);
    assert_eq!(w.fake.calls("createvm"), 1);
    assert_eq!(w.vb.ensure_installed(&cx, w.master()).expect("install"), Outcome::Applied);
    let world = w.fake.world.lock().expect("lock");
    let vm = &world.vms[0];
    assert!(vm.keys_typed, "the boot menu's Install entry was not picked");
    assert_eq!(vm.sata.as_ref().map(|p| (p[&1].clone(), p[&2].clone())), Some(("emptydrive".into(), "emptydrive".into())));
    drop(world);
    assert_eq!(w.vb.ensure_installed(&cx, w.master()).expect("again"), Outcome::Satisfied);
    assert_eq!(w.fake.calls("startvm"), 1);
}

#[test]
fn a_vm_registered_but_never_marked_is_still_lab_s_and_is_made_again() {
    let w = world();
    let cx = w.cx();
    w.vb.ensure_hostonly(&cx).expect("hostonly");
    // Killed right after createvm: the VM exists with the UUID lab recorded, without its mark.
    let uuid = "11111111-2222-4333-8444-555555555555";
    Records::update(&w.sd, |r| {
        r.vms.insert("master".into(), VmRecord { name: "lab-spark-master".into(), uuid: uuid.into(), made: Made::PerNode, macs: None, booted: false });
    })
    .expect("record");
    w.vb.driver()
        .expect("d")
        .create_vm("lab-spark-master", uuid, "/lab-spark", "RedHat_64", &VirtualBox::basefolder(&w.sd), driver::Arch::X86_64)
        .expect("create");
    assert_eq!(w.vb.ensure_vm(&cx, w.master()).expect("remade"), Outcome::Applied);
    let info = w.vb.driver().expect("d").vm("lab-spark-master").expect("q").expect("exists");
    assert_eq!(info.description, w.sd.vm_mark());
    assert!(info.description.split(' ').next().is_some_and(|m| m.is_ascii() && m.starts_with("lab:")), "the mark is ASCII");
    assert!(matches!(
        install_state(&info, &VirtualBox::disk_path(&w.lab, &w.sd, "lab-spark-master"), None, &VirtualBox::seed_path(&w.sd, "master")),
        Install::Pending
    ));
    assert_eq!(w.fake.calls("unregistervm"), 1);
}

#[test]
fn a_vm_killed_before_its_last_attachment_is_made_again() {
    let w = world();
    let cx = w.cx();
    w.vb.ensure_hostonly(&cx).expect("hostonly");
    w.vb.ensure_vm(&cx, w.master()).expect("create");
    w.vb.driver().expect("d").attach("lab-spark-master", driver::Arch::X86_64, 2, &Medium::None, false).expect("detach");
    assert_eq!(w.vb.ensure_vm(&cx, w.master()).expect("remade"), Outcome::Applied);
    assert_eq!(w.fake.calls("createvm"), 2);
    assert_eq!(w.fake.calls("createmedium"), 2, "the old disk's registration did not block the new one");
}

#[test]
fn a_failed_install_names_the_log_and_the_next_run_starts_over() {
    let w = world();
    let cx = w.cx();
    w.vb.ensure_hostonly(&cx).expect("hostonly");
    w.vb.ensure_vm(&cx, w.master()).expect("create");
    w.fake.world.lock().expect("lock").vms[0].state = "aborted".into();
    // An aborted VM with its install discs: the install failed, so the VM is made anew.
    assert_eq!(w.vb.ensure_vm(&cx, w.master()).expect("remade"), Outcome::Applied);
    assert_eq!(w.fake.calls("createvm"), 2);
}

#[test]
fn a_vm_of_the_same_name_that_is_not_lab_s_is_refused_and_left_alone() {
    let w = world();
    let cx = w.cx();
    w.vb.ensure_hostonly(&cx).expect("hostonly");
    w.vb.driver()
        .expect("d")
        .create_vm("lab-spark-master", "99999999-2222-4333-8444-555555555555", "/", "RedHat_64", std::path::Path::new("/elsewhere"), driver::Arch::X86_64)
        .expect("create");
    match w.vb.ensure_vm(&cx, w.master()) {
        Err(Error::Preflight { problem, .. }) => assert!(problem.contains("did not create"), "{problem}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(w.fake.calls("unregistervm"), 0);
    let st = w.sd.load().expect("load");
    let found = w.vb.our_vms(w.vb.driver().expect("d"), &w.lab, &w.sd, st.as_ref()).expect("ours");
    assert!(found.is_empty(), "destroy would take a VM that is not lab's: {found:?}");
}

#[test]
fn destroy_finds_vms_by_their_mark_without_state_and_gives_back_a_reused_interface() {
    let w = world();
    let cx = w.cx();
    // The user's own interface already holds the lab's address, with its DHCP server on.
    w.fake.world.lock().expect("lock").hostonly.push(("vboxnet0".into(), "192.168.56.1".into(), "255.255.255.0".into(), true));
    w.vb.ensure_hostonly(&cx).expect("reuse");
    w.vb.ensure_vm(&cx, w.master()).expect("create");
    let state = w.sd.load().expect("load");
    assert!(Records::of(state.as_ref()).network.is_none(), "a reused interface is not lab's");
    // Without state, the VM is still found by its mark.
    let found = w.vb.our_vms(w.vb.driver().expect("d"), &w.lab, &w.sd, None).expect("ours");
    assert_eq!(found.len(), 1);
    w.run(&w.vb.destroy(&w.lab, &w.sd, state.as_ref()).expect("plan")).expect("destroy");
    let world = w.fake.world.lock().expect("lock");
    assert!(world.vms.is_empty());
    assert_eq!(world.hostonly.len(), 1, "the user's interface stays");
    assert!(world.hostonly[0].3, "its DHCP server is on again");
}

#[test]
fn an_interface_whose_name_was_reused_is_not_removed() {
    let w = world();
    let cx = w.cx();
    w.vb.ensure_hostonly(&cx).expect("create");
    let state = w.sd.load().expect("load");
    // VirtualBox gave the name to another interface with another address meanwhile.
    w.fake.world.lock().expect("lock").hostonly[0].1 = "192.168.99.1".into();
    w.run(&w.vb.destroy(&w.lab, &w.sd, state.as_ref()).expect("plan")).expect("destroy");
    assert_eq!(w.fake.world.lock().expect("lock").hostonly.len(), 1);
}

/// Made, installed and booted once (as `ensure_running` records it).
fn installed(w: &World) {
    let cx = w.cx();
    w.vb.ensure_hostonly(&cx).expect("hostonly");
    w.vb.ensure_vm(&cx, w.master()).expect("create");
    w.vb.ensure_installed(&cx, w.master()).expect("install");
    booted(w, true);
}

fn refused_naming(w: &World, what: &str) {
    let cx = w.cx();
    let counts = || (w.fake.calls("unregistervm"), w.fake.calls("createvm"), w.fake.calls("closemedium"), w.fake.calls("createmedium"));
    let before = counts();
    match w.vb.ensure_vm(&cx, w.master()) {
        Err(Error::Preflight { problem, fix }) => {
            assert!(problem.contains("master") && problem.contains(what), "{problem}");
            assert!(fix.contains("lab up --recreate master"), "{fix}");
        }
        other => panic!("an installed VM that looks changed was not refused: {other:?}"),
    }
    assert_eq!(counts(), before, "lab deleted or made something");
    assert_eq!(w.fake.calls("unregistervm"), 0);
}

#[test]
fn an_installed_vm_whose_description_was_changed_by_hand_is_refused_and_kept() {
    let w = world();
    installed(&w);
    w.fake.world.lock().expect("lock").vms[0].description = "my Spark master (do not delete)".into();
    refused_naming(&w, "description");
    // Asked for by name, it is made anew.
    let cx = w.cx_with(Options { recreate: vec!["master".into()], ..Options::default() });
    assert_eq!(w.vb.ensure_vm(&cx, w.master()).expect("recreate"), Outcome::Applied);
    assert_eq!((w.fake.calls("unregistervm"), w.fake.calls("createvm")), (1, 2));
    assert!(!Records::load(&w.sd).expect("load").booted("master"), "a new VM is not booted yet");
}

#[test]
fn an_installed_vm_whose_disk_was_changed_by_hand_is_refused_and_kept() {
    let w = world();
    installed(&w);
    let other = w.sd.path().join("other.vdi");
    w.vb.driver().expect("d").attach("lab-spark-master", driver::Arch::X86_64, 0, &Medium::Image(other), true).expect("attach");
    refused_naming(&w, "disk");
}

#[test]
fn an_installed_vm_is_known_by_its_empty_drives_even_without_the_record() {
    // A lab made by an older lab has no `booted:` record: emptied DVD drives say the install ended.
    let w = world();
    installed(&w);
    booted(&w, false);
    w.fake.world.lock().expect("lock").vms[0].description = "changed".into();
    refused_naming(&w, "description");
}

mod steps;
