//! Readers that hash what they pass on (uploads are verified as they go) or note progress.

use sha2::Digest;

/// The hash an upload is checked with.
pub(super) enum Hasher {
    Sha256(sha2::Sha256),
    Sha512(sha2::Sha512),
}

/// An `AsyncRead` that reports how many bytes went through and hashes them.
pub(super) struct Hashing<'a, R> {
    pub(super) inner: R,
    pub(super) done: u64,
    pub(super) report: &'a mut (dyn FnMut(u64) + Send),
    pub(super) hasher: Hasher,
}

impl<R: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for Hashing<'_, R> {
    fn poll_read(self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>, buf: &mut tokio::io::ReadBuf<'_>) -> std::task::Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let poll = std::pin::Pin::new(&mut this.inner).poll_read(cx, buf);
        let new = &buf.filled()[before..];
        if !new.is_empty() {
            match &mut this.hasher {
                Hasher::Sha256(h) => h.update(new),
                Hasher::Sha512(h) => h.update(new),
            }
            this.done += new.len() as u64;
            (this.report)(this.done);
        }
        poll
    }
}

/// Input for a remote command that marks progress whenever bytes are taken from it.
pub(super) struct Progressing<'a, R: ?Sized, F: Fn()> {
    pub(super) inner: &'a mut R,
    pub(super) touch: &'a F,
}

impl<R: tokio::io::AsyncRead + Unpin + ?Sized, F: Fn()> tokio::io::AsyncRead for Progressing<'_, R, F> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = std::pin::Pin::new(&mut *self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            (self.touch)();
        }
        r
    }
}
