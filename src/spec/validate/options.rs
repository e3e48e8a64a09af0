//! Locale and the provider-specific sections (`sandbox:`, `existing:`).

use std::path::PathBuf;

use super::Check;
use crate::spec::{ExistingOptions, FieldPath, Locale, ProviderKind, SandboxOptions, checks, raw};

pub(super) fn locale(c: &mut Check<'_>) -> Locale {
    let p = FieldPath::root().key("locale");
    let raw: raw::Locale = c.get(&p).unwrap_or_default();
    let l = Locale {
        lang: raw.lang.unwrap_or_else(|| "en_US.UTF-8".into()),
        keyboard: raw.keyboard.unwrap_or_else(|| "us".into()),
        timezone: raw.timezone.unwrap_or_else(|| "Etc/UTC".into()),
    };
    c.rule(&p.key("lang"), checks::lang(&l.lang), "like en_US.UTF-8");
    c.rule(&p.key("keyboard"), checks::keyboard(&l.keyboard), "like us");
    c.rule(&p.key("timezone"), checks::timezone(&l.timezone), "like Etc/UTC or Europe/Paris");
    l
}

pub(super) fn sandbox(c: &mut Check<'_>, provider: ProviderKind) -> SandboxOptions {
    let p = FieldPath::root().key("sandbox");
    let Some(raw) = c.get::<raw::Sandbox>(&p) else { return SandboxOptions::default() };
    if provider != ProviderKind::Sandbox {
        c.error(&p, "`sandbox` settings are used only by the sandbox provider", Some("remove them, or set `provider: sandbox`"));
    }
    let rootfs = raw.rootfs.map(PathBuf::from);
    if let Some(r) = &rootfs
        && !r.is_absolute()
    {
        c.error(
            &p.key("rootfs"),
            format!("{} is not an absolute path", r.display()),
            Some("write the full path of a directory holding a Linux root filesystem"),
        );
    }
    SandboxOptions { rootfs }
}

pub(super) fn existing(c: &mut Check<'_>, provider: ProviderKind, user: &str) -> ExistingOptions {
    let p = FieldPath::root().key("existing");
    let raw = c.get::<raw::Existing>(&p);
    if raw.is_some() && provider != ProviderKind::Existing {
        c.error(&p, "`existing` settings are used only by the existing provider", Some("remove them, or set `provider: existing`"));
    }
    let raw = raw.unwrap_or_default();
    if let Some(l) = &raw.login
        && l != "root"
    {
        c.rule(&p.key("login"), checks::username(l), "the account lab logs in as; it needs sudo");
    }
    if raw.port == Some(0) {
        c.error(&p.key("port"), "port 0 is not a port", Some("use the SSH port, usually 22"));
    }
    // Logging in as the lab user itself means taking the account lab logs in with: say so.
    if provider == ProviderKind::Existing && raw.take_account != Some(true) && raw.login.as_deref() == Some(user) {
        c.error(
            &p.key("login"),
            "`existing.login` is the lab user: lab would give that account passwordless sudo and the lab key",
            Some("give the lab its own `user:` (lab creates it), or add `take_account: true` under `existing:` if that account is meant for the lab"),
        );
    }
    ExistingOptions {
        login: raw.login,
        identity_file: raw.identity_file.map(PathBuf::from),
        known_hosts: raw.known_hosts.map(PathBuf::from),
        port: raw.port.unwrap_or(22),
        take_account: raw.take_account.unwrap_or(false),
    }
}
