// swift-tools-version:6.2
import PackageDescription

// Our own targets build in Swift 6 language mode with every warning an error.
let strict: [SwiftSetting] = [.treatAllWarnings(as: .error)]

let package = Package(
    name: "ZoneBoot",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "zonebootd", targets: ["zonebootd"]),
        .executable(name: "zonectl", targets: ["zonectl"]),
    ],
    dependencies: [
        .package(url: "https://github.com/jpsim/Yams", exact: "6.2.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", exact: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", exact: "1.16.2"),
        .package(url: "https://github.com/groue/GRDB.swift", exact: "7.10.0"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache", exact: "2.1.1"),
        .package(url: "https://github.com/apple/swift-nio", exact: "2.101.3"),
        // No traits: the swift-configuration support is not used and not worth its build.
        .package(url: "https://github.com/hummingbird-project/hummingbird", exact: "2.28.1", traits: []),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", exact: "2.13.0"),
        // HTTPS to BMCs' Redfish services and webhook POSTs from the hook runner.
        .package(url: "https://github.com/swift-server/async-http-client", exact: "1.37.0"),
        // Its TLS settings (BMCs' self-signed certificates); async-http-client builds on it anyway.
        .package(url: "https://github.com/apple/swift-nio-ssl", exact: "2.37.6"),
        // RSA client keys of bootstrap secrets (Boot mints them) and SHA-256 fingerprints of
        // BMC certificates pinned on first use; already resolved for async-http-client.
        .package(url: "https://github.com/apple/swift-crypto", exact: "4.5.2"),
        // /metrics: the metrics API and its Prometheus text exposition.
        .package(url: "https://github.com/apple/swift-metrics", exact: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", exact: "2.4.1"),
    ],
    targets: [
        // IPv4 addresses, networks and ranges: pure values shared by the zone and the codecs.
        .target(name: "Addressing", swiftSettings: strict),
        // DHCPv4 wire codec: pure, total, symmetric; no dependencies.
        .target(name: "DHCPv4", swiftSettings: strict),
        // TFTP wire codec, option negotiation and the read-transfer state machine: pure; no dependencies.
        .target(name: "TFTP", swiftSettings: strict),
        // The zone file: parsing with positions, validation, expansion into a revision, plan.
        .target(name: "Zone", dependencies: [
            "Addressing",
            .product(name: "Yams", package: "Yams"),
            .product(name: "Mustache", package: "swift-mustache"),
            // SHA-256 of secret files (`secret-file` values), shown instead of their content.
            .product(name: "Crypto", package: "swift-crypto"),
        ], swiftSettings: strict),
        // Pure policy: what a location is answered with, and its rendered files.
        .target(name: "Boot", dependencies: [
            "Addressing", "DHCPv4", "Zone",
            // The static YAML Ansible inventory.
            .product(name: "Yams", package: "Yams"),
            // Minting bootstrap secrets (Secrets/): RSA keys.
            .product(name: "CryptoExtras", package: "swift-crypto"),
        ], swiftSettings: strict),
        // An etcd v3 client over etcd's JSON gateway (no generated code): typed messages, a pure codec, several members.
        .target(name: "Etcd", dependencies: [
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
        ], swiftSettings: strict),
        // Durable state in SQLite: applied revisions, leases with the events written alongside them, BMC records;
        // revisions in etcd with --etcd (Store/Etcd).
        .target(name: "Store", dependencies: [
            "Zone", "Boot", "Etcd",
            .product(name: "GRDB", package: "GRDB.swift"),
        ], swiftSettings: strict),
        // The admin API's JSON bodies and its token file: shared by zonebootd and zonectl.
        .target(name: "AdminAPI", dependencies: ["Addressing", "Zone", "Boot", "Store", "CBuildInfo"], swiftSettings: strict),
        // The git revision `--version` prints, given by the Makefile as a C macro (see build_info.h).
        .target(name: "CBuildInfo"),
        // AF_PACKET sockets for direct mode (Linux headers Swift does not import).
        .target(name: "CPacketSocket"),
        // Thin I/O: the DHCP listener, group-committed lease writes, counters, the boot HTTP server.
        .target(name: "Server", dependencies: [
            "Addressing", "DHCPv4", "Zone", "Boot", "Store", "AdminAPI", "CPacketSocket", "TFTP", "Etcd",
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Hummingbird", package: "hummingbird"),
            // Its HTTP/1 child channel, wrapped to guard each connection (HTTP/ConnectionGuard.swift).
            .product(name: "HummingbirdCore", package: "hummingbird"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "Crypto", package: "swift-crypto"),
            // /metrics (Metrics/): the counters bridged into a Prometheus registry.
            .product(name: "CoreMetrics", package: "swift-metrics"),
            .product(name: "Prometheus", package: "swift-prometheus"),
        ], swiftSettings: strict),
        .executableTarget(name: "zonectl", dependencies: [
            "Addressing", "Zone", "Boot", "Store", "AdminAPI",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            // The admin API over http:// or https:// with a CA file and client certificates
            // (Foundation's URLSession on Linux takes neither).
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
        ], swiftSettings: strict),
        .executableTarget(name: "zonebootd", dependencies: [
            "Addressing", "Zone", "Boot", "Store", "AdminAPI", "Server", "Etcd",
            // --etcd-ca-file, --etcd-cert-file, --etcd-key-file.
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
            // One service group runs every listener, the hook runner and the counters reporter.
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "UnixSignals", package: "swift-service-lifecycle"),
        ], swiftSettings: strict),
        // What the test targets share: the repository's paths, a seeded random generator, ClientRequest, an in-memory etcd.
        .target(name: "TestSupport", dependencies: ["Addressing", "DHCPv4", "Etcd"], path: "Tests/TestSupport", swiftSettings: strict),
        .testTarget(name: "DHCPv4Tests", dependencies: ["DHCPv4", "TestSupport"], swiftSettings: strict),
        .testTarget(name: "TFTPTests", dependencies: ["TFTP", "TestSupport"], swiftSettings: strict),
        .testTarget(name: "AddressingTests", dependencies: ["Addressing"], swiftSettings: strict),
        // Golden files and fixtures are read through #filePath, not bundled.
        .testTarget(name: "ZoneTests", dependencies: ["Zone", "Addressing", "TestSupport"], exclude: ["Golden"], swiftSettings: strict),
        .testTarget(name: "BootTests", dependencies: ["Boot", "Zone", "DHCPv4", "Addressing", "TestSupport"], swiftSettings: strict),
        .testTarget(name: "AdminAPITests", dependencies: ["AdminAPI", "Boot", "Zone", "Store", "Addressing", "TestSupport"],
                    swiftSettings: strict),
        .testTarget(name: "StoreTests", dependencies: ["Store", "Zone", "Boot", "Addressing"], swiftSettings: strict),
        // The etcd codec without a network, and the etcd revision store against an in-memory etcd.
        .testTarget(name: "EtcdTests", dependencies: ["Etcd", "Store", "Zone", "Boot", "TestSupport"], swiftSettings: strict),
        // The DHCP engine and listener parts, driven in-process (no sockets where none are needed).
        .testTarget(name: "ServerTests", dependencies: [
            "Server", "Store", "Boot", "Zone", "DHCPv4", "Addressing", "CPacketSocket", "AdminAPI", "TestSupport",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            // NIOAsyncTestingChannel: the DHCP channel handler and engine without sockets.
            .product(name: "NIOEmbedded", package: "swift-nio"),
            // A TLS responder for the BMC certificate pin (PinnedHTTPSTests).
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "Logging", package: "swift-log"),
            // The boot and admin routers driven in-process (`app.test(.router)`).
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HummingbirdTesting", package: "hummingbird"),
            // MetricsTests: one part's families in a registry of the test's own.
            .product(name: "Prometheus", package: "swift-prometheus"),
        ], swiftSettings: strict),
    ],
    swiftLanguageModes: [.v6]
)
