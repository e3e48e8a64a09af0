//! The one HTTP seam: reqwest clients, built in one place. Downloads honour the user's proxy
//! settings; requests to the lab's own network (the Spark master's web UI) never go through a
//! proxy, which could not reach it.

use std::sync::OnceLock;
use std::time::Duration;

use crate::error::{Error, Result};

fn builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder().user_agent(concat!("lab/", env!("CARGO_PKG_VERSION"))).connect_timeout(Duration::from_secs(15))
}

/// For downloads: long transfers, a stall of a minute is an error.
pub fn downloads() -> Result<reqwest::Client> {
    static C: OnceLock<reqwest::Client> = OnceLock::new();
    if let Some(c) = C.get() {
        return Ok(c.clone());
    }
    let c = builder().read_timeout(Duration::from_secs(60)).build().map_err(|e| Error::Internal(format!("starting the HTTP client: {e}")))?;
    Ok(C.get_or_init(|| c).clone())
}

/// For the lab network: short requests, no proxy.
pub fn lab() -> Result<reqwest::Client> {
    static C: OnceLock<reqwest::Client> = OnceLock::new();
    if let Some(c) = C.get() {
        return Ok(c.clone());
    }
    let c = builder()
        .timeout(Duration::from_secs(5))
        .connect_timeout(Duration::from_secs(3))
        .no_proxy()
        .build()
        .map_err(|e| Error::Internal(format!("starting the HTTP client: {e}")))?;
    Ok(C.get_or_init(|| c).clone())
}

/// GETs `url` on the lab network and returns the body.
pub async fn get_text(url: &str) -> Result<String> {
    let resp = lab()?.get(url).send().await.map_err(|e| Error::Download { url: url.to_string(), problem: e.to_string() })?;
    if !resp.status().is_success() {
        return Err(Error::Download { url: url.to_string(), problem: format!("HTTP {}", resp.status()) });
    }
    resp.text().await.map_err(|e| Error::Download { url: url.to_string(), problem: e.to_string() })
}

/// Whether a download answers (`HEAD`, through the user's proxy like the download would), within
/// a few seconds.
pub async fn answers(url: &str) -> Result<()> {
    let req = downloads()?.head(url).timeout(Duration::from_secs(8));
    let resp = req.send().await.map_err(|e| Error::Download { url: url.to_string(), problem: e.to_string() })?;
    if resp.status().is_success() || resp.status().is_redirection() {
        Ok(())
    } else {
        Err(Error::Download { url: url.to_string(), problem: format!("HTTP {}", resp.status()) })
    }
}
