:silent
// lab verify's Spark job, fed to spark-shell on stdin (Scala 2.11 to 2.13): waits until every
// worker's executor has registered, then prints, between markers that only the running job can
// form, the host names its tasks ran on, a sum whose value is known, and its application id (the
// history server lists it). Whatever the shell echoes
// (prompts, values), lab finds the line between the markers.
val labExpected = sys.env.getOrElse("LAB_WORKERS", "0").toInt
val labDeadline = System.currentTimeMillis + 120000L
while (sc.getExecutorMemoryStatus.size < labExpected + 1 && System.currentTimeMillis < labDeadline) Thread.sleep(100)
val labHosts = sc.parallelize(1 to 1000, math.max(labExpected * 8, 8)).map(_ => java.net.InetAddress.getLocalHost.getHostName).distinct().collect().sorted
val labSum = sc.parallelize(1 to 100000).map(_.toLong).reduce(_ + _)
println("#LAB" + "RESULT#" + "hosts=" + labHosts.mkString(",") + ";sum=" + labSum + ";app=" + sc.applicationId + ";#LAB" + "RESULT#")
System.exit(0)
