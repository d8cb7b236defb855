import ArgumentParser
import Foundation
import Logging
import NIOCore
import NIOPosix
import Server
import TFTP

/// zonebootd's TFTP options, and the servers they start.
struct TFTPOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Directory served over TFTP (default: the firmware cache, <firmware>/cache).",
                               discussion: "Without one, only rendered per-host files are served."))
    var tftpRoot: String?

    @Option(help: "UDP port for TFTP on each --listen address (0: no TFTP).")
    var tftpPort = 69

    @Option(help: "TFTP transfers running at once, in total; more are refused with an ERROR and counted.")
    var tftpMaxTransfers = 1024

    @Option(help: "TFTP transfers running at once per client address.")
    var tftpMaxPerClient = 16

    @Option(help: "Largest TFTP block size granted (RFC 2348: 8 to 65464).")
    var tftpMaxBlockSize = 65464

    @Option(help: "Largest TFTP window granted (RFC 7440).")
    var tftpMaxWindow = 64

    @Option(help: "TFTP retransmissions of one window (timeout doubling each time) before a transfer is given up.")
    var tftpRetries = 5

    @Option(help: ArgumentHelp("Seconds a TFTP transfer lives without progress, whatever timeout its client asked.",
                               discussion: "When every slot is taken, the oldest transfer never acknowledged is evicted for a new one."))
    var tftpProgressLimit = 30

    @Option(help: "MiB the running TFTP transfers' buffers may hold together; windows are granted smaller to fit.")
    var tftpBufferBudgetMib = 256

    @Option(help: ArgumentHelp("HTTP upstream for files the TFTP root does not have, e.g. http://boot.example.net/tftp/.",
                               discussion: "Each file is fetched once, cached on disk, revalidated (ETag, Last-Modified) and served from the cache when the upstream is down."))
    var tftpUpstream: String?

    @Option(help: "Cache directory for upstream files (default: <state>/tftp-cache).")
    var tftpCache: String?

    @Option(help: "Seconds a cached upstream file is served before it is revalidated.")
    var tftpUpstreamRevalidate = 10

    @Option(help: ArgumentHelp("MiB the upstream cache may hold; the least recently used files are deleted to stay under it.",
                               discussion: "A file larger than the whole cap is refused (TFTP error 2, counted as upstream-too-large), never cached."))
    var tftpCacheMaxMib = 4096

    @Option(help: "Event-loop threads for the TFTP listeners and upstream fetches (default: one per core); transfers run on one worker thread per core.")
    var tftpThreads: Int?

    @Option(help: "Where to write TFTP counters as JSON every second (default: <state>/tftp-counters.json).")
    var tftpCountersFile: String?

    func validate() throws {
        guard (0...65535).contains(tftpPort) else { throw ValidationError("--tftp-port must be 0 to 65535") }
        if let tftpUpstream, UpstreamContentSource.Upstream(tftpUpstream) == nil {
            throw ValidationError("--tftp-upstream \(tftpUpstream): expected http://host[:port][/prefix]")
        }
        if let tftpThreads, !(1...256).contains(tftpThreads) { throw ValidationError("--tftp-threads must be 1 to 256") }
        guard tftpUpstreamRevalidate >= 0 else { throw ValidationError("--tftp-upstream-revalidate must be at least 0") }
        guard (0...20).contains(tftpRetries) else { throw ValidationError("--tftp-retries must be 0 to 20") }
        guard tftpMaxTransfers >= 1, tftpMaxPerClient >= 1 else { throw ValidationError("TFTP transfer limits must be at least 1") }
        guard (8...65464).contains(tftpMaxBlockSize) else { throw ValidationError("--tftp-max-block-size must be 8 to 65464") }
        guard (1...65535).contains(tftpMaxWindow) else { throw ValidationError("--tftp-max-window must be 1 to 65535") }
        guard (1...3600).contains(tftpProgressLimit) else { throw ValidationError("--tftp-progress-limit must be 1 to 3600 seconds") }
        guard (1...(1 << 20)).contains(tftpBufferBudgetMib) else { throw ValidationError("--tftp-buffer-budget-mib must be 1 to 1048576") }
        guard (1...(1 << 30)).contains(tftpCacheMaxMib) else { throw ValidationError("--tftp-cache-max-mib must be at least 1") }
    }

    /// The served directory: the one named, else the firmware cache if there is one.
    func resolvedRoot(default defaultRoot: String) -> String? {
        if let tftpRoot { return tftpRoot }
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: defaultRoot, isDirectory: &isDirectory) && isDirectory.boolValue ? defaultRoot : nil
    }

    /// Starts TFTP on every listen address (call only when `tftpPort` is not 0). `overlay`
    /// serves per-host rendered files in front of the directory; `opened` is told of every file opened for a client.
    func start(listen: [String], stateDirectory: String, defaultRoot: String, overlay: OverlayContentSource.Lookup? = nil,
               opened: ObservedContentSource.Opened? = nil,
               counters statistics: Counters<TFTPCounters>, logger: Logger) async throws -> TFTPService {
        // Its own threads, one per core: a boot storm's transfers never delay a DHCP answer.
        let group = MultiThreadedEventLoopGroup(numberOfThreads: tftpThreads ?? System.coreCount)
        var base: (any TFTPContentSource)?
        if let root = resolvedRoot(default: defaultRoot) {
            do {
                base = try DirectoryContentSource(root: root)
            } catch {
                throw TFTPStartupError(message: "--tftp-root \(root): no such directory")
            }
            logger.info("TFTP serves \(root)")
        }
        if let tftpUpstream, let upstream = UpstreamContentSource.Upstream(tftpUpstream) {
            let cache = tftpCache ?? (stateDirectory as NSString).appendingPathComponent("tftp-cache")
            let proxy = try UpstreamContentSource(upstream: upstream, cacheDirectory: cache,
                                                  revalidateAfter: .seconds(Int64(tftpUpstreamRevalidate)),
                                                  cacheCapacity: UInt64(tftpCacheMaxMib) << 20, group: group, logger: logger)
            base = FallbackContentSource([base, proxy].compactMap { $0 })
            logger.info("TFTP proxies \(tftpUpstream), cached in \(cache)")
        }
        let overlaid = OverlayContentSource(base: base, lookup: overlay ?? { _, _ in nil })
        let content: any TFTPContentSource = opened.map { ObservedContentSource(overlaid, opened: $0) as any TFTPContentSource }
            ?? overlaid
        let configuration = { (host: String) in
            TFTPServer.Configuration(host: host, port: tftpPort,
                                     limits: TFTPLimits(maximumBlockSize: tftpMaxBlockSize, maximumWindowSize: tftpMaxWindow),
                                     maximumRetries: tftpRetries, maximumTransfers: tftpMaxTransfers, maximumTransfersPerClient: tftpMaxPerClient,
                                     progressLimitMilliseconds: Int64(tftpProgressLimit) * 1000, bufferBudget: tftpBufferBudgetMib << 20)
        }
        var servers: [TFTPServer] = []
        do {
            for host in listen {
                servers.append(try await TFTPServer.start(configuration(host), content: content, statistics: statistics,
                                                          group: group, logger: logger))
            }
        } catch {
            for server in servers { await server.close() }
            try? await group.shutdownGracefully()
            throw error
        }
        let path = tftpCountersFile ?? (stateDirectory as NSString).appendingPathComponent("tftp-counters.json")
        return TFTPService(servers: servers, countersPath: path, group: group)
    }
}

/// The running TFTP servers, their threads, and where their counters are written.
struct TFTPService: Sendable {
    let servers: [TFTPServer]
    let countersPath: String
    let group: MultiThreadedEventLoopGroup

    /// Stops taking requests, ends the running transfers, stops the threads.
    func close() async {
        for server in servers { await server.close() }
        try? await group.shutdownGracefully()
    }
}

struct TFTPStartupError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}
