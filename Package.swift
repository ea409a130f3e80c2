// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "FlowStore",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "FlowStoreCore", targets: ["FlowStoreCore"]),
        .library(name: "FlowStoreDirectory", targets: ["FlowStoreDirectory"]),
        .library(name: "FlowStoreInMemory", targets: ["FlowStoreInMemory"]),
        .library(name: "FlowStorePostgres", targets: ["FlowStorePostgres"]),
        .executable(name: "flowstore", targets: ["flowstore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.5.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.80.0"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.20.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.0.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.21.0"),
        // Already in the graph through postgres-nio; named so sslmode=require can build a TLS context.
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.25.0"),
    ],
    targets: [
        // OpenSSL's libcrypto, linked as a system library: every SHA-256 in FlowStore goes through it.
        .systemLibrary(
            name: "COpenSSL",
            path: "Sources/COpenSSL",
            pkgConfig: "openssl",
            providers: [.apt(["libssl-dev"])]
        ),
        // A few lines of C: syncfs(2), which Swift's Glibc module does not declare (the barrier
        // behind VersionStore.commitBatch), and the SSE2/NEON scan of canonical JSON's fast path.
        .target(name: "CFlowStoreSys", path: "Sources/CFlowStoreSys"),
        // The version store: canonical JSON, the model, VersionStore and the backend protocols
        // (objects, refs, transactions, sweep fence). No file-system, CLI or HTTP code.
        .target(name: "FlowStoreCore", dependencies: ["COpenSSL", "CFlowStoreSys"]),
        // The directory backend: objects and refs as files (git's layout), batch writes with
        // file-system barriers, flock fences. What `flowstore init DIR` makes.
        .target(name: "FlowStoreDirectory", dependencies: ["FlowStoreCore", "CFlowStoreSys"]),
        // A whole store in memory (objects, refs, transactions, sweep fence): for tests above the
        // store, and the reference backend of the conformance suite.
        .target(name: "FlowStoreInMemory", dependencies: ["FlowStoreCore"]),
        // A store in PostgreSQL (objects, refs, listing stamps, transactions, sweep fence,
        // divergence records), for several servers sharing one store. Its own module, so only
        // what opens a `postgres://` store pays for PostgresNIO.
        .target(
            name: "FlowStorePostgres",
            dependencies: [
                "FlowStoreCore",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The HTTP face: Humanloop- and PromptLayer-compatible routes over FlowStoreCore.
        .target(
            name: "FlowStoreServer",
            dependencies: [
                "FlowStoreCore",
                .product(name: "Hummingbird", package: "hummingbird"),
                // ByteBuffer, for response bodies cached already encoded.
                .product(name: "NIOCore", package: "swift-nio"),
                // NIOThreadPool, for the threads that wait on a database (`BlockingWork`).
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                // ServiceGroup, for stopping an in-process server gracefully (Hummingbird depends on it too).
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // The git-like command line, as a library so tests can drive it in-process.
        .target(
            name: "FlowStoreCLI",
            dependencies: [
                "FlowStoreCore",
                "FlowStoreDirectory",
                "FlowStorePostgres",
                "FlowStoreServer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(name: "flowstore", dependencies: ["FlowStoreCLI"]),
        // `swift run -c release flowstore-bench`: the benchmark command (docs/performance.md).
        // The server half runs the real app (buildApplication) beside a hello-world Hummingbird app
        // as its ceiling, in a child process whose memory is measured on its own.
        .executableTarget(
            name: "flowstore-bench",
            dependencies: [
                "FlowStoreCore",
                "FlowStoreDirectory",
                "FlowStorePostgres",
                "FlowStoreServer",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .testTarget(name: "FlowStoreCoreTests", dependencies: ["FlowStoreCore", "FlowStoreDirectory"], resources: []),
        // What several test targets share: a real PostgreSQL server's databases, one per test
        // (the server is started by `make test`: scripts/postgres-test-server.sh).
        .target(
            name: "FlowStoreTestSupport",
            dependencies: [
                "FlowStoreCore", "FlowStorePostgres", .product(name: "PostgresNIO", package: "postgres-nio"),
            ],
            path: "Tests/FlowStoreTestSupport"),
        // One suite every backend passes unchanged: the directory store, the in-memory one and
        // PostgreSQL (against a real server), with PostgreSQL's own tests beside it.
        .testTarget(
            name: "FlowStoreBackendTests",
            dependencies: [
                "FlowStoreCore", "FlowStoreDirectory", "FlowStoreInMemory", "FlowStorePostgres", "FlowStoreTestSupport",
            ]),
        .testTarget(name: "FlowStoreCLITests", dependencies: ["FlowStoreCLI", "FlowStoreCore", "FlowStoreDirectory"]),
        .testTarget(
            name: "FlowStoreServerTests",
            dependencies: [
                "FlowStoreServer", "FlowStoreCore", "FlowStoreDirectory", "FlowStoreCLI",
                // EmbeddedChannel and its virtual clock, for the early-response handler's bounds.
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
            ]
        ),
        // Crash, concurrency, corruption, hostile-input, auth and load tests (issue 6).
        .testTarget(
            name: "FlowStoreReliabilityTests",
            dependencies: ["FlowStoreCore", "FlowStoreDirectory", "FlowStoreCLI", "FlowStoreServer", "FlowStoreTestSupport"]
        ),
    ]
)
