use super::*;
use crate::spec::{HostFacts, parse};
use std::path::Path;

#[test]
fn executor_memory_fits_the_worker() {
    let mut lab = parse(Path::new("x"), include_str!("../../labs/sandbox.yaml"), &HostFacts::default()).expect("valid");
    assert_eq!(spark::small_executor_memory(&lab), "512m");
    lab.spark.worker_memory = Some("384m".into());
    assert_eq!(spark::small_executor_memory(&lab), "384m");
    lab.spark.worker_memory = Some("2g".into());
    assert_eq!(spark::small_executor_memory(&lab), "512m");
}

#[test]
fn the_result_is_found_whatever_the_shell_echoes() {
    let want = Some((vec!["node1".to_string(), "node2".to_string()], "5000050000".to_string()));
    // Scala 2.12: the line alone.
    assert_eq!(job_result("Spark context available as 'sc'\n#LABRESULT#hosts=node1,node2;sum=5000050000;#LABRESULT#\n"), want);
    // Scala 2.13 (Spark 4): after the prompt, on the same line.
    assert_eq!(job_result("scala> scala> #LABRESULT#hosts=node1,node2;sum=5000050000;#LABRESULT#\nscala> "), want);
    // An echo of the source line is not a result.
    let echoed = "scala> println(\"#LAB\" + \"RESULT#\" + \"hosts=\" + labHosts.mkString(\",\"))\n";
    assert_eq!(job_result(echoed), None);
    assert_eq!(job_result("#LABRESULT#hosts=node1;sum=1;#LABRESULT#").map(|r| r.1), Some("1".to_string()));
    let with_app = "#LABRESULT#hosts=node1,node2;sum=5000050000;app=app-20261204190000-0003;#LABRESULT#";
    assert_eq!(job_result(with_app), want);
    assert_eq!(job_app(with_app).as_deref(), Some("app-20261204190000-0003"));
    assert_eq!(job_app("#LABRESULT#hosts=node1;sum=1;#LABRESULT#"), None);
    // The history server's answer (Spark 4.3's /api/v1/applications/<id>, pretty-printed).
    assert!(completed("{\n  \"id\" : \"app-1\",\n  \"attempts\" : [ {\n    \"completed\" : true\n  } ]\n}"));
    assert!(!completed("{\"id\":\"app-1\",\"attempts\":[{\"completed\":false}]}"));
    assert!(!completed("not json"));
    assert!(JOB.contains("\"#LAB\" + \"RESULT#\""), "the job must build the marker at run time");
}
