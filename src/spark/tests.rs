use super::*;
use crate::spec::{HostFacts, parse};
use std::path::Path;

#[test]
fn layout() {
    let lab = parse(Path::new("x"), include_str!("../../labs/sandbox.yaml"), &HostFacts::default()).expect("valid");
    assert_eq!(Daemon::Worker.pid(), "/var/lib/lab-spark/spark-sparkd-org.apache.spark.deploy.worker.Worker-1.pid");
    assert_eq!(master_url(&lab), "spark://master:7077");
    assert_eq!(workers_files(Version(2, 3, 2)), ["conf/workers", "conf/slaves"]);
    assert_eq!(workers_files(Version(4, 0, 1)), ["conf/workers"]);
    let worker = start(&lab, Daemon::Worker);
    assert!(worker.as_str().contains("sudo -n -u sparkd env  SPARK_PID_DIR=/var/lib/lab-spark SPARK_LOG_DIR=/var/lib/lab-spark/logs"), "{worker}");
    assert!(
        worker.as_str().ends_with(
            "org.apache.spark.deploy.worker.Worker 1 --properties-file /var/lib/lab-spark/daemon.conf --webui-port 8081 --work-dir /var/lib/lab-spark/work spark://master:7077"
        ),
        "{worker}"
    );
}
