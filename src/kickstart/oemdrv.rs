//! A minimal ISO 9660 image with a few files at its root: labelled `OEMDRV` with `ks.cfg`, what
//! Anaconda looks for when no `inst.ks=` is given, or labelled `cidata` with cloud-init's NoCloud
//! files (`meta-data`, `user-data`, `network-config`; Linux shows ISO names in lower case, without
//! `;1`). No Joliet or Rock Ridge (either could change the label or the names the guest sees),
//! byte-for-byte deterministic for the same input and timestamp.
//!
//! Layout (2048-byte sectors): 0-15 system area (zero), 16 primary volume descriptor, 17 set
//! terminator, 18 type-L path table, 19 type-M path table, 20 root directory, 21.. the files.

const SECTOR: usize = 2048;
const PVD: u32 = 16;
const TERMINATOR: u32 = 17;
const L_TABLE: u32 = 18;
const M_TABLE: u32 = 19;
const ROOT: u32 = 20;
const FILE: u32 = 21;
/// Bytes of a root-only path table: 8 + identifier (1) + pad (1).
const PATH_TABLE_BYTES: u32 = 10;
pub const LABEL: &str = "OEMDRV";
/// The file's ISO name; Linux shows it as `ks.cfg`.
pub const FILE_NAME: &str = "KS.CFG;1";
/// A kickstart is a few KiB; anything near this is a mistake.
pub const MAX_FILE: usize = 1024 * 1024;

/// A UTC time for the image's dates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timestamp {
    pub year: u16,
    pub month: u8,
    pub day: u8,
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
}

impl Timestamp {
    /// From seconds since 1970-01-01 UTC.
    pub fn from_unix(secs: u64) -> Self {
        let days = i64::try_from(secs / 86_400).unwrap_or(0);
        let rem = secs % 86_400;
        // Days to civil date (proleptic Gregorian), after Howard Hinnant's algorithm.
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + i64::from(month <= 2);
        let hms = |v: u64| u8::try_from(v).unwrap_or(0);
        Self {
            year: u16::try_from(year).unwrap_or(1970),
            month: u8::try_from(month).unwrap_or(1),
            day: u8::try_from(day).unwrap_or(1),
            hour: hms(rem / 3600),
            minute: hms(rem / 60 % 60),
            second: hms(rem % 60),
        }
    }

    /// The current time, or `SOURCE_DATE_EPOCH` when set (reproducible builds convention).
    pub fn now() -> Self {
        let secs = std::env::var("SOURCE_DATE_EPOCH")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs()));
        Self::from_unix(secs)
    }

    /// 7-byte directory record date: years since 1900, month, day, hour, minute, second, offset.
    fn record(self) -> [u8; 7] {
        let y = u8::try_from(self.year.saturating_sub(1900)).unwrap_or(u8::MAX);
        [y, self.month, self.day, self.hour, self.minute, self.second, 0]
    }

    /// 17-byte volume descriptor date: `YYYYMMDDHHMMSScc` and the GMT offset.
    fn descriptor(self) -> [u8; 17] {
        let text = format!("{:04}{:02}{:02}{:02}{:02}{:02}00", self.year, self.month, self.day, self.hour, self.minute, self.second);
        let mut out = [0u8; 17];
        out[..16].copy_from_slice(&text.as_bytes()[..16]);
        out
    }
}

fn both16(v: u16) -> [u8; 4] {
    let (l, b) = (v.to_le_bytes(), v.to_be_bytes());
    [l[0], l[1], b[0], b[1]]
}

fn both32(v: u32) -> [u8; 8] {
    let (l, b) = (v.to_le_bytes(), v.to_be_bytes());
    [l[0], l[1], l[2], l[3], b[0], b[1], b[2], b[3]]
}

/// A directory record: 33 bytes plus the identifier, padded to an even length.
fn dir_record(ident: &[u8], extent: u32, size: u32, is_dir: bool, t: Timestamp) -> Vec<u8> {
    let len = 33 + ident.len() + usize::from(ident.len().is_multiple_of(2));
    let mut r = Vec::with_capacity(len);
    r.push(u8::try_from(len).unwrap_or(0));
    r.push(0); // extended attribute record length
    r.extend_from_slice(&both32(extent));
    r.extend_from_slice(&both32(size));
    r.extend_from_slice(&t.record());
    r.push(if is_dir { 0x02 } else { 0x00 });
    r.push(0); // file unit size
    r.push(0); // interleave gap
    r.extend_from_slice(&both16(1)); // volume sequence number
    r.push(u8::try_from(ident.len()).unwrap_or(0));
    r.extend_from_slice(ident);
    r.resize(len, 0);
    r
}

fn put(img: &mut [u8], sector: u32, offset: usize, bytes: &[u8]) {
    let at = sector as usize * SECTOR + offset;
    img[at..at + bytes.len()].copy_from_slice(bytes);
}

fn padded(text: &str, len: usize) -> Vec<u8> {
    let mut v = text.as_bytes().to_vec();
    v.resize(len, b' ');
    v
}

/// Builds the image holding `ks` as `/ks.cfg`.
pub fn build(ks: &[u8], t: Timestamp) -> crate::error::Result<Vec<u8>> {
    volume(LABEL, &[(FILE_NAME, ks)], t)
}

/// Builds an image labelled `label` holding `files` (ISO names such as `META-DATA;1`, each at
/// most [`MAX_FILE`] bytes) at its root.
pub fn volume(label: &str, files: &[(&str, &[u8])], t: Timestamp) -> crate::error::Result<Vec<u8>> {
    let too_large = |what: &str| crate::error::Error::Kickstart(format!("{what} is too large for a seed image"));
    let mut files: Vec<(&str, &[u8])> = files.to_vec();
    // ECMA-119 orders directory records by name.
    files.sort_by_key(|f| f.0);
    let mut extents = Vec::new();
    let mut next = FILE;
    for (name, data) in &files {
        if data.len() > MAX_FILE {
            return Err(crate::error::Error::Kickstart(format!("{name} is {} bytes; a seed image holds at most {MAX_FILE} per file", data.len())));
        }
        extents.push(next);
        next += u32::try_from(data.len().div_ceil(SECTOR).max(1)).map_err(|_| too_large(name))?;
    }
    let total = next;
    let mut img = vec![0u8; total as usize * SECTOR];

    // Primary volume descriptor.
    put(&mut img, PVD, 0, &[1]);
    put(&mut img, PVD, 1, b"CD001");
    put(&mut img, PVD, 6, &[1]);
    put(&mut img, PVD, 8, &padded("LINUX", 32));
    put(&mut img, PVD, 40, &padded(label, 32));
    put(&mut img, PVD, 80, &both32(total));
    put(&mut img, PVD, 120, &both16(1)); // volume set size
    put(&mut img, PVD, 124, &both16(1)); // volume sequence number
    put(&mut img, PVD, 128, &both16(u16::try_from(SECTOR).unwrap_or(2048)));
    put(&mut img, PVD, 132, &both32(PATH_TABLE_BYTES));
    put(&mut img, PVD, 140, &L_TABLE.to_le_bytes());
    put(&mut img, PVD, 148, &M_TABLE.to_be_bytes());
    let root_record = dir_record(&[0], ROOT, u32::try_from(SECTOR).unwrap_or(2048), true, t);
    put(&mut img, PVD, 156, &root_record);
    put(&mut img, PVD, 190, &[b' '; 813 - 190]); // volume set, publisher, preparer, application, file ids
    put(&mut img, PVD, 813, &t.descriptor()); // creation
    put(&mut img, PVD, 830, &t.descriptor()); // modification
    let unspecified = {
        let mut d = [b'0'; 17];
        d[16] = 0;
        d
    };
    put(&mut img, PVD, 847, &unspecified); // expiration
    put(&mut img, PVD, 864, &unspecified); // effective
    put(&mut img, PVD, 881, &[1]); // file structure version

    // Volume descriptor set terminator.
    put(&mut img, TERMINATOR, 0, &[255]);
    put(&mut img, TERMINATOR, 1, b"CD001");
    put(&mut img, TERMINATOR, 6, &[1]);

    // Path tables: one entry, the root, its own parent (directory number 1).
    let mut l = vec![1, 0];
    l.extend_from_slice(&ROOT.to_le_bytes());
    l.extend_from_slice(&1u16.to_le_bytes());
    l.extend_from_slice(&[0, 0]);
    put(&mut img, L_TABLE, 0, &l);
    let mut m = vec![1, 0];
    m.extend_from_slice(&ROOT.to_be_bytes());
    m.extend_from_slice(&1u16.to_be_bytes());
    m.extend_from_slice(&[0, 0]);
    put(&mut img, M_TABLE, 0, &m);

    // Root directory: ".", "..", then the file.
    let mut root = dir_record(&[0], ROOT, u32::try_from(SECTOR).unwrap_or(2048), true, t);
    root.extend(dir_record(&[1], ROOT, u32::try_from(SECTOR).unwrap_or(2048), true, t));
    for ((name, data), extent) in files.iter().zip(&extents) {
        let size = u32::try_from(data.len()).map_err(|_| too_large(name))?;
        root.extend(dir_record(name.as_bytes(), *extent, size, false, t));
        put(&mut img, *extent, 0, data);
    }
    put(&mut img, ROOT, 0, &root);
    Ok(img)
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Timestamp = Timestamp { year: 2026, month: 11, day: 24, hour: 8, minute: 30, second: 5 };

    #[test]
    fn unix_time_to_civil_date() {
        assert_eq!(Timestamp::from_unix(0), Timestamp { year: 1970, month: 1, day: 1, hour: 0, minute: 0, second: 0 });
        // 2024-02-29 12:34:56 UTC
        assert_eq!(Timestamp::from_unix(1_709_210_096), Timestamp { year: 2024, month: 2, day: 29, hour: 12, minute: 34, second: 56 });
    }

    #[test]
    fn layout_matches_ecma_119() {
        let ks = b"text\n".repeat(10);
        let img = build(&ks, T).expect("builds");
        assert_eq!(img.len(), 22 * SECTOR);
        let pvd = &img[16 * SECTOR..17 * SECTOR];
        assert_eq!(&pvd[1..6], b"CD001");
        assert_eq!(&pvd[40..72], padded("OEMDRV", 32).as_slice());
        assert_eq!(u32::from_le_bytes([pvd[80], pvd[81], pvd[82], pvd[83]]), 22);
        assert_eq!(u32::from_be_bytes([pvd[84], pvd[85], pvd[86], pvd[87]]), 22);
        assert_eq!(u32::from_le_bytes([pvd[132], pvd[133], pvd[134], pvd[135]]), 10);
        assert_eq!(&pvd[813..827], b"20261124083005");
        assert_eq!(img[17 * SECTOR], 255);
        assert_eq!(&img[21 * SECTOR..21 * SECTOR + ks.len()], ks.as_slice());
        let root = &img[20 * SECTOR..21 * SECTOR];
        let file_rec = 34 + 34;
        assert_eq!(&root[file_rec + 33..file_rec + 33 + 8], b"KS.CFG;1");
    }

    #[test]
    fn deterministic_and_sized_by_content() {
        let a = build(b"x", T).expect("a");
        assert_eq!(a, build(b"x", T).expect("b"));
        assert_ne!(a, build(b"x", Timestamp { second: 6, ..T }).expect("c"));
        assert_eq!(build(&vec![b'x'; SECTOR + 1], T).expect("d").len(), 23 * SECTOR);
        assert!(build(&vec![b'x'; MAX_FILE + 1], T).is_err());
    }

    #[test]
    fn several_files_in_name_order_each_in_its_own_sectors() {
        let img = volume("cidata", &[("USER-DATA;1", b"#cloud-config\n"), ("META-DATA;1", &[b'm'; SECTOR + 1])], T).expect("builds");
        let pvd = &img[16 * SECTOR..17 * SECTOR];
        assert_eq!(&pvd[40..72], padded("cidata", 32).as_slice());
        let root = &img[20 * SECTOR..21 * SECTOR];
        let first = 34 + 34;
        assert_eq!(&root[first + 33..first + 33 + 11], b"META-DATA;1");
        let second = first + usize::from(root[first]);
        assert_eq!(&root[second + 33..second + 33 + 11], b"USER-DATA;1");
        assert_eq!(u32::from_le_bytes([root[second + 2], root[second + 3], root[second + 4], root[second + 5]]), 23);
        assert_eq!(&img[23 * SECTOR..23 * SECTOR + 14], b"#cloud-config\n");
        assert_eq!(img.len(), 24 * SECTOR);
    }
}
