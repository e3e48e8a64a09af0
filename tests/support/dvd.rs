//! Install ISOs for the stand-in: ISO 9660 images that carry what Anaconda reads from a DVD to
//! find its repositories, the `.treeinfo` file (productmd's format: `[tree] variants = ...`),
//! padded to a few megabytes like a (very small) DVD.

const SECTOR: usize = 2048;

/// What the distributions' DVD ISOs carry (BaseOS and AppStream) and what Rocky's minimal ISO
/// carries (`minimal` and BaseOS: sig-core-toolkit, `configs/el9.yaml`, `iso_map.images`).
pub const DVD: &[&str] = &["BaseOS", "AppStream"];
pub const MINIMAL: &[&str] = &["minimal", "BaseOS"];

fn both_endian32(v: u32) -> [u8; 8] {
    let mut b = [0u8; 8];
    b[..4].copy_from_slice(&v.to_le_bytes());
    b[4..].copy_from_slice(&v.to_be_bytes());
    b
}

fn both_endian16(v: u16) -> [u8; 4] {
    let mut b = [0u8; 4];
    b[..2].copy_from_slice(&v.to_le_bytes());
    b[2..].copy_from_slice(&v.to_be_bytes());
    b
}

fn record(name: &[u8], extent: u32, size: u32, dir: bool) -> Vec<u8> {
    let len = 33 + name.len() + (name.len() + 1) % 2;
    let mut r = vec![0u8; len];
    r[0] = u8::try_from(len).expect("short name");
    r[2..10].copy_from_slice(&both_endian32(extent));
    r[10..18].copy_from_slice(&both_endian32(size));
    r[25] = if dir { 2 } else { 0 };
    r[28..32].copy_from_slice(&both_endian16(1));
    r[32] = u8::try_from(name.len()).expect("short name");
    r[33..33 + name.len()].copy_from_slice(name);
    r
}

/// An install ISO labelled `label` whose `.treeinfo` names `variants`, `total` bytes long.
pub fn install_iso(label: &str, variants: &[&str], total: usize) -> Vec<u8> {
    let mut treeinfo = format!(
        "[header]\ntype = productmd.treeinfo\nversion = 1.2\n\n[general]\nfamily = Lab test\nversion = 9\narch = x86_64\n\n[tree]\narch = x86_64\nvariants = {}\n",
        variants.join(",")
    );
    for v in variants {
        treeinfo += &format!("\n[variant-{v}]\nid = {v}\nname = {v}\npackages = {v}/Packages\nrepository = {v}\ntype = variant\nuid = {v}\n");
    }
    let files: Vec<(&[u8], Vec<u8>)> = vec![(b".TREEINFO;1", treeinfo.into_bytes())];
    let root_sector = 18u32;
    let mut next = root_sector + 1;
    let mut dir = Vec::new();
    dir.extend(record(&[0], root_sector, u32::try_from(SECTOR).expect("sector"), true));
    dir.extend(record(&[1], root_sector, u32::try_from(SECTOR).expect("sector"), true));
    let mut placed = Vec::new();
    for (name, data) in &files {
        dir.extend(record(name, next, u32::try_from(data.len()).expect("size"), false));
        placed.push((next, data));
        next += u32::try_from(data.len().div_ceil(SECTOR)).expect("sectors");
    }
    let mut img = vec![0u8; (next as usize * SECTOR).max(total)];
    let pvd = 16 * SECTOR;
    img[pvd] = 1;
    img[pvd + 1..pvd + 6].copy_from_slice(b"CD001");
    img[pvd + 6] = 1;
    let mut l = [b' '; 32];
    l[..label.len().min(32)].copy_from_slice(&label.as_bytes()[..label.len().min(32)]);
    img[pvd + 40..pvd + 72].copy_from_slice(&l);
    let sectors = both_endian32(u32::try_from(img.len() / SECTOR).expect("sectors"));
    img[pvd + 80..pvd + 88].copy_from_slice(&sectors);
    img[pvd + 128..pvd + 132].copy_from_slice(&both_endian16(2048));
    let root = record(&[0], root_sector, u32::try_from(SECTOR).expect("sector"), true);
    img[pvd + 156..pvd + 156 + root.len()].copy_from_slice(&root);
    let term = 17 * SECTOR;
    img[term] = 255;
    img[term + 1..term + 6].copy_from_slice(b"CD001");
    img[term + 6] = 1;
    let r = root_sector as usize * SECTOR;
    img[r..r + dir.len()].copy_from_slice(&dir);
    for (sector, data) in placed {
        let at = sector as usize * SECTOR;
        img[at..at + data.len()].copy_from_slice(data);
    }
    img
}
