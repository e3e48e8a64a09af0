//! Where verify reads the master's and the history server's web UIs: at the master's address,
//! or, where this computer is not on the lab network (the qemu provider without root), through
//! local forwards over the SSH session to the master.

use std::sync::Arc;

use crate::remote::Session;
use crate::spark;
use crate::spec::Lab;

/// The UIs' base URLs, as verify reads them.
pub struct Uis {
    pub master: String,
    pub history: Option<String>,
}

pub async fn uis(lab: &Lab, master: Option<&Arc<Session>>, direct: bool) -> Uis {
    let at_address = Uis { master: spark::master_ui(lab), history: spark::history_ui(lab) };
    let (false, Some(ms)) = (direct, master) else { return at_address };
    let ip = lab.master().ip.to_string();
    let Ok(ui) = crate::remote::forward::listen(ms.clone(), 0, &ip, spark::MASTER_UI_PORT).await else { return at_address };
    let history = match lab.spark.history_port {
        Some(port) => crate::remote::forward::listen(ms.clone(), 0, &ip, port).await.ok().map(|a| format!("http://{a}")),
        None => None,
    };
    Uis { master: format!("http://{ui}"), history }
}
