//! The seam to a Spark Connect server: one gRPC call from this computer, made the way a PySpark
//! client makes it (HTTP/2, `application/grpc`, a length-prefixed protobuf message), so a wrong
//! bind address, a closed firewall or a server that is not there fails here as it would for a
//! student's notebook. No Python is needed on this computer.
//!
//! The call is `spark.connect.SparkConnectService/AnalyzePlan` asking the server's Spark version
//! (`AnalyzePlanRequest.spark_version`, field 10; the answer is
//! `AnalyzePlanResponse.spark_version.version`, fields 8 and 1), as defined in Spark's
//! `sql/connect/common/src/main/protobuf/spark/connect/base.proto`. The few fields are written
//! and read by hand: protobuf's wire format is varints and length-delimited bytes.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;

const PATH: &str = "/spark.connect.SparkConnectService/AnalyzePlan";

/// A field of a protobuf message: tag, then the length-delimited bytes.
fn field(out: &mut Vec<u8>, number: u32, bytes: &[u8]) {
    varint(out, u64::from(number << 3 | 2));
    varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// `AnalyzePlanRequest { session_id, user_context { user_id }, client_type, spark_version {} }`.
pub fn version_request(session_id: &str, user: &str) -> Vec<u8> {
    let mut user_context = Vec::new();
    field(&mut user_context, 1, user.as_bytes());
    let mut m = Vec::new();
    field(&mut m, 1, session_id.as_bytes());
    field(&mut m, 2, &user_context);
    field(&mut m, 3, concat!("lab/", env!("CARGO_PKG_VERSION")).as_bytes());
    field(&mut m, 10, &[]);
    m
}

/// The length-delimited fields of a message, by number (other wire types are skipped).
fn fields(mut b: &[u8]) -> Option<Vec<(u64, &[u8])>> {
    fn read_varint(b: &mut &[u8]) -> Option<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let (&byte, rest) = b.split_first()?;
            *b = rest;
            v |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Some(v);
            }
        }
        None
    }
    let mut out = Vec::new();
    while !b.is_empty() {
        let key = read_varint(&mut b)?;
        match key & 7 {
            0 => drop(read_varint(&mut b)?),
            1 => b = b.get(8..)?,
            5 => b = b.get(4..)?,
            2 => {
                let len = usize::try_from(read_varint(&mut b)?).ok()?;
                out.push((key >> 3, b.get(..len)?));
                b = &b[len..];
            }
            _ => return None,
        }
    }
    Some(out)
}

/// The version in an `AnalyzePlanResponse`.
pub fn version_of(response: &[u8]) -> Option<String> {
    let sv = fields(response)?.into_iter().find(|(n, _)| *n == 8)?.1;
    let v = fields(sv)?.into_iter().find(|(n, _)| *n == 1)?.1;
    String::from_utf8(v.to_vec()).ok()
}

/// gRPC's framing: a compression flag (0), the length, the message.
fn frame(message: &[u8]) -> Bytes {
    let mut b = Vec::with_capacity(message.len() + 5);
    b.push(0);
    b.extend_from_slice(&u32::try_from(message.len()).unwrap_or(u32::MAX).to_be_bytes());
    b.extend_from_slice(message);
    Bytes::from(b)
}

/// A random session id in the UUID form the server requires.
fn session_id() -> String {
    use rand_core::RngCore;
    let mut b = [0u8; 16];
    rand_core::OsRng.fill_bytes(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..])
}

/// gRPC's status in headers or trailers: `Err` with its code and message unless it is 0 (OK).
fn grpc_status(h: &http::HeaderMap) -> Option<Result<(), String>> {
    let code = h.get("grpc-status")?.to_str().ok()?.to_string();
    if code == "0" {
        return Some(Ok(()));
    }
    let msg = h.get("grpc-message").and_then(|m| m.to_str().ok()).unwrap_or("");
    Some(Err(format!("the server answered gRPC status {code} {}", msg.replace("%20", " "))))
}

/// Asks the Spark Connect server at `addr` for its Spark version, within `within`, presenting
/// `token` as PySpark's client does (`authorization: Bearer <token>`, what Spark's
/// `PreSharedKeyAuthenticationInterceptor` checks).
pub async fn spark_version(addr: SocketAddr, user: &str, token: Option<&str>, within: Duration) -> Result<String, String> {
    match tokio::time::timeout(within, call(addr, user, token)).await {
        Ok(r) => r,
        Err(_) => Err(format!("no answer from {addr} within {} s", within.as_secs())),
    }
}

async fn call(addr: SocketAddr, user: &str, token: Option<&str>) -> Result<String, String> {
    let tcp = tokio::net::TcpStream::connect(addr).await.map_err(|e| format!("nothing answers on {addr}: {e}"))?;
    let (client, conn) = h2::client::handshake(tcp).await.map_err(|e| format!("{addr} does not speak HTTP/2 (gRPC): {e}"))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let mut client = client.ready().await.map_err(|e| format!("{addr}: {e}"))?;
    let mut request = http::Request::post(format!("http://{addr}{PATH}")).header("content-type", "application/grpc").header("te", "trailers");
    if let Some(t) = token {
        request = request.header("authorization", format!("Bearer {t}"));
    }
    let request = request.body(()).map_err(|e| e.to_string())?;
    let (response, mut send) = client.send_request(request, false).map_err(|e| format!("{addr}: {e}"))?;
    send.send_data(frame(&version_request(&session_id(), user)), true).map_err(|e| format!("{addr}: {e}"))?;
    let response = response.await.map_err(|e| format!("{addr}: {e}"))?;
    if response.status() != http::StatusCode::OK {
        return Err(format!("{addr} answered HTTP {} (not a Spark Connect server?)", response.status()));
    }
    if let Some(Err(e)) = grpc_status(response.headers()) {
        return Err(e);
    }
    let mut body = response.into_body();
    let mut data = Vec::new();
    while let Some(chunk) = body.data().await {
        let chunk = chunk.map_err(|e| format!("{addr}: {e}"))?;
        let _ = body.flow_control().release_capacity(chunk.len());
        data.extend_from_slice(&chunk);
    }
    if let Ok(Some(trailers)) = body.trailers().await
        && let Some(Err(e)) = grpc_status(&trailers)
    {
        return Err(e);
    }
    let message = data.get(5..).ok_or_else(|| format!("{addr} sent no answer"))?;
    version_of(message).ok_or_else(|| format!("{addr}'s answer carries no Spark version"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_is_the_version_question_and_the_answer_is_read() {
        let r = version_request("00112233-4455-6677-8899-aabbccddeeff", "spark");
        // session_id (1), user_context (2) { user_id (1) }, client_type (3), spark_version (10) {}.
        assert_eq!(&r[..2], &[0x0a, 36]);
        assert_eq!(&r[38..38 + 9], &[0x12, 7, 0x0a, 5, b's', b'p', b'a', b'r', b'k']);
        assert_eq!(&r[r.len() - 2..], &[0x52, 0]);
        let f = fields(&r).expect("well formed");
        assert_eq!(f.iter().map(|x| x.0).collect::<Vec<_>>(), [1, 2, 3, 10]);
        // AnalyzePlanResponse { session_id: "s", server_side_session_id (15): "x", spark_version (8) { version: "4.3.0" } }
        let mut sv = Vec::new();
        field(&mut sv, 1, b"4.3.0");
        let mut resp = Vec::new();
        field(&mut resp, 1, b"s");
        field(&mut resp, 15, b"x");
        field(&mut resp, 8, &sv);
        assert_eq!(version_of(&resp).as_deref(), Some("4.3.0"));
        assert_eq!(version_of(&[0x0a, 40]), None, "a truncated answer is no answer");
        assert_eq!(&frame(b"abc")[..], &[0, 0, 0, 0, 3, b'a', b'b', b'c']);
        let id = session_id();
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
    }

    #[test]
    fn nothing_listening_says_where_it_looked() {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        let free = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr");
        let e = rt.block_on(spark_version(free, "spark", None, Duration::from_secs(5))).expect_err("nothing there");
        assert!(e.contains(&format!("nothing answers on {free}")), "{e}");
    }
}
