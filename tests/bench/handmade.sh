#!/usr/bin/env bash
# What a careful person would script by hand to provision a Spark cluster on nodes that already
# answer SSH: OpenSSH's ssh and scp, every node in parallel. The benchmark times it against
# `lab up` + `lab verify` doing the same work on the same kind of nodes.
# Usage: handmade.sh KEY KNOWN_HOSTS USER JDK_TGZ SPARK_TGZ MASTER_IP WORKER_IP...
set -euo pipefail
key=$1 known=$2 user=$3 jdk=$4 spark=$5 master=$6; shift 6; workers=("$@")
all=("$master" "${workers[@]}")
opts=(-i "$key" -o UserKnownHostsFile="$known" -o StrictHostKeyChecking=yes -o BatchMode=yes -o LogLevel=ERROR)
on() { local ip=$1; shift; ssh "${opts[@]}" "$user@$ip" "$@"; }

hosts="$(printf '%s master\n' "$master"; for i in "${!workers[@]}"; do printf '%s node%d\n' "${workers[$i]}" $((i + 1)); done)"
setup() {
  local ip=$1
  scp "${opts[@]}" "$jdk" "$user@$ip:/tmp/jdk.tgz"
  scp "${opts[@]}" "$spark" "$user@$ip:/tmp/spark.tgz"
  on "$ip" "set -e
    sudo -n sh -c 'rm -rf /opt/jdk-hand /opt/spark-hand && mkdir -p /opt/jdk-hand /opt/spark-hand /var/lib/hand-spark \
      && tar xzf /tmp/jdk.tgz -C /opt/jdk-hand --strip-components=1 && tar xzf /tmp/spark.tgz -C /opt/spark-hand --strip-components=1 \
      && chown -R $user:$user /opt/spark-hand /var/lib/hand-spark && rm -f /tmp/jdk.tgz /tmp/spark.tgz'
    printf '127.0.0.1 localhost\n%s\n' '$hosts' | sudo -n tee /etc/hosts >/dev/null
    printf 'export JAVA_HOME=/opt/jdk-hand\nexport SPARK_MASTER_HOST=master\nexport SPARK_LOCAL_IP=$ip\nexport SPARK_PID_DIR=/var/lib/hand-spark\nexport SPARK_WORKER_CORES=1\nexport SPARK_WORKER_MEMORY=512m\n' > /opt/spark-hand/conf/spark-env.sh"
}
pids=(); for ip in "${all[@]}"; do setup "$ip" & pids+=($!); done
for p in "${pids[@]}"; do wait "$p"; done
on "$master" "printf '%s\n' ${workers[*]/#/} >/dev/null; for i in \$(seq 1 ${#workers[@]}); do echo node\$i; done > /opt/spark-hand/conf/workers
  mkdir -p ~/.ssh && chmod 700 ~/.ssh && [ -f ~/.ssh/id_ed25519 ] || ssh-keygen -q -t ed25519 -N '' -f ~/.ssh/id_ed25519"
pub=$(on "$master" cat .ssh/id_ed25519.pub)
pids=(); for ip in "${workers[@]}"; do on "$ip" "grep -qxF '$pub' ~/.ssh/authorized_keys || echo '$pub' >> ~/.ssh/authorized_keys" & pids+=($!); done
for p in "${pids[@]}"; do wait "$p"; done
on "$master" "ssh-keyscan -q ${workers[*]} \$(for i in \$(seq 1 ${#workers[@]}); do echo node\$i; done) > ~/.ssh/known_hosts 2>/dev/null
  cd /opt/spark-hand && sbin/spark-daemon.sh start org.apache.spark.deploy.master.Master 1 --host master --port 7077 --webui-port 8080 >/dev/null"
deadline=$((SECONDS + 120))
until curl -fsS "http://$master:8080/json/" 2>/dev/null | grep -q '"status" : "ALIVE"'; do [ $SECONDS -lt $deadline ] || { echo "master not ALIVE" >&2; exit 1; }; sleep 0.5; done
pids=(); for ip in "${workers[@]}"; do on "$ip" "cd /opt/spark-hand && sbin/spark-daemon.sh start org.apache.spark.deploy.worker.Worker 1 --webui-port 8081 spark://master:7077 >/dev/null" & pids+=($!); done
for p in "${pids[@]}"; do wait "$p"; done
deadline=$((SECONDS + 120))
until [ "$(curl -fsS "http://$master:8080/json/" | grep -c '"state" : "ALIVE"')" -ge "${#workers[@]}" ]; do [ $SECONDS -lt $deadline ] || { echo "workers not ALIVE" >&2; exit 1; }; sleep 0.5; done
# The same checks lab verify makes, the same job.
pids=(); for ip in "${all[@]}"; do on "$ip" "getent hosts master >/dev/null && /opt/jdk-hand/bin/java -version 2>&1 | head -1 >/dev/null && /opt/jdk-hand/bin/jps | grep -qE 'Master|Worker'" & pids+=($!); done
for p in "${pids[@]}"; do wait "$p"; done
for i in $(seq 1 ${#workers[@]}); do on "$master" "ssh -o BatchMode=yes -o StrictHostKeyChecking=accept-new node$i true"; done
# The same job lab verify runs, in spark-shell as a person does by hand (lab compiles it where
# the JDK has javac, and runs it with spark-submit).
on "$master" "cat > /tmp/hand.scala" < "$(dirname "$0")/../../src/verify-job.scala"
on "$master" "LAB_WORKERS=${#workers[@]} JAVA_HOME=/opt/jdk-hand /opt/spark-hand/bin/spark-shell --master spark://master:7077 \
  --conf spark.scheduler.minRegisteredResourcesRatio=1.0 --conf spark.executor.memory=512m --conf spark.ui.enabled=false < /tmp/hand.scala 2>/dev/null" | grep -q 'sum=5000050000'
