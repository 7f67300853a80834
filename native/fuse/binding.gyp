{
  "targets": [{
    "target_name": "palm_fuse",
    "sources": [
      "src/addon.c",
      "src/bridge.c",
      "src/ops.c",
      "src/reply.c",
      "src/session.c"
    ],
    "cflags!": ["-O3"],
    "cflags": ["-O2", "-g", "-Wall", "-Wextra", "-Wno-unused-parameter", "-std=gnu11", "<!@(pkg-config --cflags fuse3)"],
    "libraries": ["<!@(pkg-config --libs fuse3)", "-lpthread"]
  }]
}
