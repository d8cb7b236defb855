import Addressing
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization
import TFTP

/// Files fetched from an HTTP upstream once, cached on disk, and served from the cache.
///
/// The TFTP proxy on a ToR: the first request for a file starts one GET; that request and
/// every other one arriving meanwhile are served from the cache file as it fills (a block is
/// sent as soon as its bytes are on disk). Later requests revalidate the cached copy with
/// `If-None-Match` / `If-Modified-Since` (at most once per `revalidateAfter`), and while the
/// upstream is unreachable or failing the cached copy keeps being served.
///
/// The cache stays under `cacheCapacity` bytes, cached files and fills in progress together
/// (`TFTPCacheIndex`): the least recently used files are deleted to make room, and a file
/// larger than the whole cap is refused (ERROR 2, counted `upstream-too-large`) rather than
/// fetched: streaming it uncached would fetch it again for every client of a boot storm.
/// Plain `http://` only (no TLS library is among the package's dependencies).
public final class UpstreamContentSource: TFTPContentSource {
    public struct Upstream: Sendable {
        public var host: String
        public var port: Int
        /// Prefix of every upstream path, ending in `/`.
        public var basePath: String

        /// Parses `http://host[:port][/prefix]`.
        public init?(_ url: String) {
            guard url.hasPrefix("http://") else { return nil }
            let rest = url.dropFirst("http://".count)
            let authority = rest.prefix { $0 != "/" }
            var path = String(rest.dropFirst(authority.count))
            if !path.hasSuffix("/") { path += "/" }
            let parts = authority.split(separator: ":", maxSplits: 1)
            guard let name = parts.first, !name.isEmpty else { return nil }
            host = String(name)
            if parts.count == 2 {
                guard let number = Int(parts[1]), (1...65535).contains(number) else { return nil }
                port = number
            } else {
                port = 80
            }
            basePath = path
        }
    }

    public let upstream: Upstream
    public let cacheDirectory: String
    public let revalidateAfter: TimeAmount
    private let group: any EventLoopGroup
    private let logger: Logger
    /// Fetches in flight, by path: later requests for the same file wait on the same one
    /// (as many as transfers are admitted at once).
    private let inFlight = Mutex<[String: EventLoopFuture<FetchResult>]>([:])
    /// When each cached file (by cache file name) was last confirmed current by the upstream;
    /// forgotten with the file.
    private let validated = Mutex<[String: NIODeadline]>([:])
    /// The cached files' sizes and use order, by cache file name.
    private let index: Mutex<TFTPCacheIndex>

    public init(upstream: Upstream, cacheDirectory: String, revalidateAfter: TimeAmount = .seconds(10),
                cacheCapacity: UInt64 = 4 << 30, group: any EventLoopGroup, logger: Logger) throws {
        try FileManager.default.createDirectory(atPath: cacheDirectory, withIntermediateDirectories: true)
        self.upstream = upstream
        self.cacheDirectory = cacheDirectory
        self.revalidateAfter = revalidateAfter
        self.group = group
        self.logger = logger
        index = Mutex(TFTPCacheIndex(capacity: cacheCapacity))
        loadIndex()
    }

    /// Counts what an earlier run cached (least recently used first), deletes its unfinished
    /// fills and files without their metadata (nothing would serve or count them), and deletes
    /// the least recently used files if the cap is now lower than what is there.
    private func loadIndex() {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: cacheDirectory)) ?? []
        let present = Set(names)
        var cached: [(name: String, size: UInt64, modified: Int, nanoseconds: Int)] = []
        for name in names {
            let file = (cacheDirectory as NSString).appendingPathComponent(name)
            if name.contains(".part-") || (!name.hasSuffix(".meta") && !present.contains(name + ".meta")) {
                unlink(file)
                continue
            }
            guard name.hasSuffix(".meta") else { continue }
            let data = String(file.dropLast(".meta".count))
            var status = stat()
            guard let meta = FileManager.default.contents(atPath: file).flatMap({ try? JSONDecoder().decode(Meta.self, from: $0) }),
                  stat(data, &status) == 0, UInt64(status.st_size) == meta.size else {
                unlink(file)
                continue
            }
            cached.append((data, meta.size, status.st_mtim.tv_sec, status.st_mtim.tv_nsec))
        }
        // A file's modification time is its last use (see `openCached`).
        for entry in cached.sorted(by: { ($0.modified, $0.nanoseconds, $0.name) < ($1.modified, $1.nanoseconds, $1.name) }) {
            let evicted = index.withLock { $0.insert(entry.name, size: entry.size) }
            delete(evicted)
        }
    }

    /// Deletes cached files the index let go of.
    private func delete(_ names: [String]) {
        guard !names.isEmpty else { return }
        validated.withLock { table in for name in names { table.removeValue(forKey: name) } }
        for name in names {
            unlink(name + ".meta")
            unlink(name)
        }
        logger.debug("TFTP upstream cache: evicted \(names.count) files to stay under its cap")
    }

    /// Room for a fill of `size` bytes of `path`, made by deleting least recently used files.
    func reserve(_ path: String, size: UInt64) -> TFTPCacheIndex.Reservation {
        let reservation = index.withLock { $0.reserve(size, for: cacheName(path)) }
        if case .granted(let evicted) = reservation { delete(evicted) }
        return reservation
    }

    enum FetchResult: Sendable {
        /// A 200: the file is filling (or filled) into this.
        case filling(UpstreamFill)
        /// A 304, or a recent validation: the cached copy is current.
        case cached
        case notFound
        /// Larger than the cache's whole cap (its Content-Length): never fetched.
        case tooLarge(UInt64)
        /// Fills in progress hold all the cache's room.
        case cacheFull
        /// The upstream could not be asked or answered with a failure.
        case unavailable(String)
    }

    /// Only the asynchronous open can fetch; a synchronous one serves what the cache holds.
    public func open(_ path: String, client: IPv4Address) throws(TFTPContentError) -> any TFTPContent {
        try openCached(path)
    }

    public func open(_ path: String, client: IPv4Address, on eventLoop: any EventLoop) -> EventLoopFuture<any TFTPContent> {
        let cachedMeta = readMeta(path)
        if cachedMeta != nil, let last = validated.withLock({ $0[cacheName(path)] }), NIODeadline.now() - last < revalidateAfter {
            return eventLoop.makeCompletedFuture { try openCached(path) }
        }
        let fetch: EventLoopFuture<FetchResult> = inFlight.withLock { table in
            if let running = table[path] { return running }
            let started = startFetch(path, meta: cachedMeta)
            table[path] = started
            return started
        }
        return fetch.hop(to: eventLoop).flatMapThrowing { result -> any TFTPContent in
            switch result {
            case .filling(let fill): return GrowingContent(fill: fill)
            case .cached: return try self.openCached(path)
            case .notFound: throw TFTPContentError.notFound
            case .tooLarge(let size):
                self.logger.warning("TFTP upstream file \(path) is \(size) bytes, more than the whole cache may hold: refused")
                throw TFTPContentError.accessDenied(reason: "upstream-too-large")
            case .cacheFull:
                // Other fills hold the room: a cached copy still serves, else the client tries again later.
                do { return try self.openCached(path) } catch { throw TFTPContentError.accessDenied(reason: "upstream-cache-full") }
            case .unavailable(let why):
                self.logger.warning("TFTP upstream unavailable for \(path) (\(why)); serving the cached copy if any")
                return try self.openCached(path)
            }
        }
    }

    // MARK: The cache

    struct Meta: Codable {
        var etag: String?
        var lastModified: String?
        var size: UInt64
    }

    /// A path as one file name: every byte outside [A-Za-z0-9._-] percent-encoded, so no
    /// cache name has a `/` or starts with `.`.
    func cacheName(_ path: String) -> String {
        var name = ""
        for byte in path.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "_"), UInt8(ascii: "-"):
                name.append(Character(UnicodeScalar(byte)))
            case UInt8(ascii: "."):
                name += name.isEmpty ? "%2E" : "."
            default:
                name += String(format: "%%%02X", byte)
            }
        }
        // The cache's own suffixes never end a file's name: a client asking `x.meta` must not
        // read or replace the metadata of `x`, nor one asking `x.part-1` pass for a fill.
        name = name.replacingOccurrences(of: ".part-", with: "%2Epart-")
        if name.hasSuffix(".meta") { name = String(name.dropLast(".meta".count)) + "%2Emeta" }
        return (cacheDirectory as NSString).appendingPathComponent(name)
    }

    func readMeta(_ path: String) -> Meta? {
        guard let data = FileManager.default.contents(atPath: cacheName(path) + ".meta") else { return nil }
        return try? JSONDecoder().decode(Meta.self, from: data)
    }

    func openCached(_ path: String) throws(TFTPContentError) -> any TFTPContent {
        let name = cacheName(path)
        guard let meta = readMeta(path) else { throw .notFound }
        let descriptor = Glibc.open(name, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw .notFound }
        var status = stat()
        guard fstat(descriptor, &status) == 0, UInt64(status.st_size) == meta.size else {
            _ = Glibc.close(descriptor)
            throw .notFound
        }
        // An open descriptor keeps reading an evicted file: eviction never cuts a transfer short.
        // The modification time records the use, so that the next start knows the order too.
        _ = futimens(descriptor, nil)
        index.withLock { $0.used(name) }
        return FileContent(descriptor: descriptor, size: meta.size)
    }

    /// Called by a fetch that received the whole body: the fill becomes the cached copy.
    func commit(_ path: String, fill: UpstreamFill, meta: Meta) {
        let name = cacheName(path)
        if rename(fill.temporaryPath, name) == 0, let data = try? JSONEncoder().encode(meta) {
            try? data.write(to: URL(fileURLWithPath: name + ".meta"), options: .atomic)
            index.withLock { $0.commit(name, size: meta.size) }
            validated.withLock { $0[name] = .now() }
        } else {
            unlink(fill.temporaryPath)
        }
    }

    /// The fetch of `path` is over (a completed fill was committed first): a reservation it
    /// still holds is given back.
    func fetchEnded(_ path: String) {
        _ = inFlight.withLock { $0.removeValue(forKey: path) }
        let name = cacheName(path)
        index.withLock { $0.cancel(name) }
    }

    func markValidated(_ path: String) {
        let name = cacheName(path)
        index.withLock { $0.used(name) }
        validated.withLock { $0[name] = .now() }
    }

    // MARK: The fetch

    private func startFetch(_ path: String, meta: Meta?) -> EventLoopFuture<FetchResult> {
        let loop = group.next()
        let promise = loop.makePromise(of: FetchResult.self)
        var headers = HTTPHeaders()
        headers.add(name: "Host", value: upstream.port == 80 ? upstream.host : "\(upstream.host):\(upstream.port)")
        headers.add(name: "User-Agent", value: "zonebootd-tftp-proxy")
        headers.add(name: "Connection", value: "close")
        if let meta, let etag = meta.etag { headers.add(name: "If-None-Match", value: etag) }
        if let meta, let lastModified = meta.lastModified { headers.add(name: "If-Modified-Since", value: lastModified) }
        let uri = upstream.basePath + path.split(separator: "/").map {
            $0.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "/?#"))) ?? String($0)
        }.joined(separator: "/")
        let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: uri, headers: headers)
        let temporary = cacheName(path) + ".part-\(UInt64.random(in: 0...UInt64.max))"
        let source = self
        ClientBootstrap(group: loop)
            .connectTimeout(.seconds(5))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(
                        UpstreamFetchHandler(path: path, head: head, temporaryPath: temporary, source: source, promise: promise))
                }
            }
            .connect(host: upstream.host, port: upstream.port)
            .whenFailure { error in
                promise.succeed(.unavailable("\(error)"))
            }
        // Whatever happened, the next request starts a fetch of its own (or uses the cache).
        promise.futureResult.whenComplete { result in
            // A fill keeps the entry while it fills; it removes it itself when done.
            if case .success(.filling) = result { return }
            source.fetchEnded(path)
        }
        return promise.futureResult
    }
}

/// A file being written from an upstream response while transfers read it.
final class UpstreamFill: Sendable {
    let size: UInt64
    let temporaryPath: String
    private let descriptor: Int32
    /// Bytes on disk (written by the fetch's event loop only).
    private let written = Atomic<UInt64>(0)
    /// Bytes transfers may read: everything written but the last byte until `finish()`, so that
    /// no transfer ends before the fill is committed and its fetch has left the in-flight table
    /// (a client that has the whole file and asks again must start a fetch of its own).
    private let available = Atomic<UInt64>(0)
    private let failed = Atomic<Bool>(false)

    init?(size: UInt64, temporaryPath: String) {
        let descriptor = Glibc.open(temporaryPath, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { return nil }
        self.size = size
        self.temporaryPath = temporaryPath
        self.descriptor = descriptor
    }

    var availableBytes: UInt64 { available.load(ordering: .acquiring) }
    var hasFailed: Bool { failed.load(ordering: .acquiring) }
    var isWhole: Bool { written.load(ordering: .acquiring) == size }

    /// Appends body bytes (the fetch's event loop only).
    func append(_ buffer: ByteBuffer) -> Bool {
        var written = self.written.load(ordering: .acquiring)
        let ok = buffer.withUnsafeReadableBytes { bytes -> Bool in
            var done = 0
            while done < bytes.count {
                let n = pwrite(descriptor, bytes.baseAddress! + done, bytes.count - done, off_t(written) + off_t(done))
                if n <= 0 { return false }
                done += n
            }
            return true
        }
        guard ok, written + UInt64(buffer.readableBytes) <= size else { return false }
        written += UInt64(buffer.readableBytes)
        self.written.store(written, ordering: .releasing)
        available.store(written < size || size == 0 ? written : size - 1, ordering: .releasing)
        return true
    }

    /// The fill is committed: transfers may read its last byte.
    func finish() {
        available.store(size, ordering: .releasing)
    }

    func fail() {
        failed.store(true, ordering: .releasing)
        unlink(temporaryPath)
    }

    func read(offset: UInt64, count: Int, into buffer: inout ByteBuffer) throws {
        guard count > 0 else { return }
        if hasFailed { throw TFTPContentError.readFailed(errno: EIO) }
        guard offset + UInt64(count) <= availableBytes else { throw TFTPContentError.notYetAvailable }
        let descriptor = self.descriptor
        let got = buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: count) { pointer in
            max(pread(descriptor, pointer.baseAddress, count, off_t(offset)), 0)
        }
        if got != count { throw TFTPContentError.readFailed(errno: errno) }
    }

    deinit { _ = Glibc.close(descriptor) }
}

/// A transfer's view of a fill: blocks are readable once their bytes are on disk.
struct GrowingContent: TFTPContent {
    let fill: UpstreamFill
    var size: UInt64 { fill.size }
    func read(offset: UInt64, count: Int, into buffer: inout ByteBuffer) throws {
        try fill.read(offset: offset, count: count, into: &buffer)
    }
    func close() {}
}

/// One GET: the response head decides what the waiting requests get; the body fills the cache.
final class UpstreamFetchHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundOut = HTTPClientRequestPart

    private let path: String
    private let head: HTTPRequestHead
    private let temporaryPath: String
    private let source: UpstreamContentSource
    private let promise: EventLoopPromise<UpstreamContentSource.FetchResult>
    private var fill: UpstreamFill?
    private var meta: UpstreamContentSource.Meta?
    private var answered = false
    private var finished = false

    init(path: String, head: HTTPRequestHead, temporaryPath: String, source: UpstreamContentSource,
         promise: EventLoopPromise<UpstreamContentSource.FetchResult>) {
        self.path = path
        self.head = head
        self.temporaryPath = temporaryPath
        self.source = source
        self.promise = promise
    }

    func channelActive(context: ChannelHandlerContext) {
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        context.fireChannelActive()
    }

    private func answer(_ result: UpstreamContentSource.FetchResult) {
        guard !answered else { return }
        answered = true
        promise.succeed(result)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let response):
            switch response.status.code {
            case 200:
                // Without a length the transfer size is unknown: such a body is not served while filling.
                guard let length = response.headers.first(name: "content-length").flatMap(UInt64.init) else {
                    answer(.unavailable("no content-length"))
                    return context.close(promise: nil)
                }
                switch source.reserve(path, size: length) {
                case .granted: break
                case .tooLarge:
                    answer(.tooLarge(length))
                    return context.close(promise: nil)
                case .full:
                    answer(.cacheFull)
                    return context.close(promise: nil)
                }
                guard let fill = UpstreamFill(size: length, temporaryPath: temporaryPath) else {
                    answer(.unavailable("cannot create \(temporaryPath)"))
                    return context.close(promise: nil)
                }
                self.fill = fill
                meta = UpstreamContentSource.Meta(etag: response.headers.first(name: "etag"),
                                                  lastModified: response.headers.first(name: "last-modified"), size: length)
                answer(.filling(fill))
                if length == 0 { complete() }
            case 304:
                source.markValidated(path)
                answer(.cached)
                context.close(promise: nil)
            case 404, 410:
                answer(.notFound)
                context.close(promise: nil)
            default:
                answer(.unavailable("status \(response.status.code)"))
                context.close(promise: nil)
            }
        case .body(let buffer):
            guard let fill, !finished else { return }
            if !fill.append(buffer) { abandon(context: context) }
        case .end:
            guard let fill, !finished else { return }
            if fill.isWhole { complete() } else { abandon(context: context) }
            context.close(promise: nil)
        }
    }

    private func complete() {
        guard let fill, let meta, !finished else { return }
        finished = true
        source.commit(path, fill: fill, meta: meta)
        source.fetchEnded(path)
        fill.finish()
    }

    private func abandon(context: ChannelHandlerContext) {
        guard !finished else { return }
        finished = true
        fill?.fail()
        source.fetchEnded(path)
        context.close(promise: nil)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        answer(.unavailable("\(error)"))
        abandon(context: context)
    }

    func channelInactive(context: ChannelHandlerContext) {
        answer(.unavailable("connection closed"))
        if fill != nil && !finished {
            finished = true
            fill?.fail()
            source.fetchEnded(path)
        }
        context.fireChannelInactive()
    }
}
