# Switchyard in a container: one binary, `switchyard <command>`.
#   docker build -t switchyard .        (docker-compose.yml runs the whole stack)
# Build stage: Debian 12 with the -dev packages; runtime stage: only the shared libraries.

FROM debian:bookworm-slim AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      build-essential cmake pkg-config \
      libevent-dev libhiredis-dev libcurl4-openssl-dev libjansson-dev libpq-dev \
      libssl-dev liblinear-dev \
      libcmocka-dev python3 \
 && rm -rf /var/lib/apt/lists/*
# (cmocka and python3 only because CMake configures the test tree too; the image
# builds just the switchyard target.)
WORKDIR /src
COPY . .
RUN cmake -S . -B /build -DCMAKE_BUILD_TYPE=RelWithDebInfo \
 && cmake --build /build -j"$(nproc)" --target switchyard \
 && install -D -m 755 /build/switchyard /stage/usr/bin/switchyard \
 && mkdir -p /stage/usr/share/switchyard/classifier \
 && cp -r migrations dashboards config experiments /stage/usr/share/switchyard/ \
 && if [ -d classifier/model ]; then cp -r classifier/model /stage/usr/share/switchyard/classifier/; fi

FROM debian:bookworm-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libevent-2.1-7 libevent-pthreads-2.1-7 libhiredis0.14 libcurl4 libjansson4 libpq5 \
      libssl3 liblinear4 ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin switchyard
COPY --from=build /stage/ /
# Data files: migrations/, dashboards/, config/, experiments/, classifier/model/ under
# /usr/share/switchyard, which is also the working directory, so the defaults' relative
# paths resolve. The classifier's compiled-in path is the build tree's: point it here.
ENV SWITCHYARD_MIGRATIONS_DIR=/usr/share/switchyard/migrations \
    SWITCHYARD_CLASSIFIER_MODEL=/usr/share/switchyard/classifier/model/switchyard-task.model
WORKDIR /usr/share/switchyard
USER switchyard
ENTRYPOINT ["switchyard"]
CMD ["--help"]
