"""A student's PySpark on this computer: a Spark Connect client (PySpark's own, from the
distribution's python/ with its client libraries from PyPI) runs DataFrame work on the lab
through sc://, and prints what came back as JSON: the server's version, a sum whose value is
known, and the host names the tasks ran on (java.net.InetAddress.getLocalHost, called by the
executors through Spark SQL's reflect()).

Usage: python3 connect_client.py sc://<master>:<port>
"""
import json
import sys

from pyspark.sql import SparkSession

spark = SparkSession.builder.remote(sys.argv[1]).getOrCreate()
total = spark.range(1, 100001).selectExpr("sum(id) AS s").collect()[0].s
# 32 slow tasks, so every worker's executor gets some.
rows = spark.range(0, 32, 1, 32).selectExpr(
    "reflect('java.net.InetAddress', 'getLocalHost') AS h",
    "reflect('java.lang.Thread', 'sleep', CAST(300 AS BIGINT)) AS z",
).collect()
hosts = sorted({r.h.split("/")[0] for r in rows})
print(json.dumps({"version": spark.version, "sum": total, "hosts": hosts}))
spark.stop()
