// lab verify's Spark job where the master's JDK has javac: the same job as verify-job.scala,
// compiled once on the master (LabVerify.java) and run with spark-submit, which starts in a
// fraction of the Scala shell's time. Java 8 to 25; Spark 2.4 to 4.
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

import org.apache.spark.SparkConf;
import org.apache.spark.api.java.JavaSparkContext;

public class LabVerify {
    public static void main(String[] args) throws Exception {
        String workers = System.getenv("LAB_WORKERS");
        int expected = workers == null ? 0 : Integer.parseInt(workers);
        JavaSparkContext sc = new JavaSparkContext(new SparkConf().setAppName("lab verify"));
        long deadline = System.currentTimeMillis() + 120000L;
        // Every worker's executor, and the driver.
        while (sc.sc().getExecutorMemoryStatus().size() < expected + 1 && System.currentTimeMillis() < deadline) {
            Thread.sleep(100);
        }
        List<Integer> small = new ArrayList<>();
        for (int i = 1; i <= 1000; i++) {
            small.add(i);
        }
        List<String> hosts = new ArrayList<>(sc.parallelize(small, Math.max(expected * 8, 8))
                .map(x -> InetAddress.getLocalHost().getHostName())
                .distinct()
                .collect());
        Collections.sort(hosts);
        List<Integer> numbers = new ArrayList<>();
        for (int i = 1; i <= 100000; i++) {
            numbers.add(i);
        }
        long sum = sc.parallelize(numbers).map(x -> (long) x).reduce((a, b) -> a + b);
        System.out.println("#LAB" + "RESULT#" + "hosts=" + String.join(",", hosts) + ";sum=" + sum + ";app=" + sc.sc().applicationId() + ";#LAB" + "RESULT#");
        System.out.flush();
        // As the shell's job does: the shutdown hook stops the context.
        System.exit(0);
    }
}
