// lab verify's Spark job, fed to spark-shell on stdin: waits until every worker's executor has
// registered, then reports the host names tasks ran on and a sum whose value is known.
val expected = sys.env.getOrElse("LAB_WORKERS", "0").toInt
val deadline = System.currentTimeMillis + 120000L
while (sc.getExecutorMemoryStatus.size < expected + 1 && System.currentTimeMillis < deadline) Thread.sleep(500)
val hosts = sc.parallelize(1 to 1000, math.max(expected * 8, 8)).map(_ => java.net.InetAddress.getLocalHost.getHostName).distinct().collect().sorted
println("LAB_EXECUTOR_HOSTS=" + hosts.mkString(","))
println("LAB_SUM=" + sc.parallelize(1 to 100000).map(_.toLong).reduce(_ + _))
System.exit(0)
