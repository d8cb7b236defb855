import Addressing
import Foundation
import NIOCore
import Synchronization

/// One opened file a transfer reads from: its size, and bytes at an offset.
///
/// Reads happen chunk by chunk on the transfer's worker thread, so a 64 MiB loader is never
/// held in memory per transfer (a file is `pread` from the page cache as blocks go out).
public protocol TFTPContent: Sendable {
    var size: UInt64 { get }
    /// Appends exactly `count` bytes from `offset` to `buffer`.
    func read(offset: UInt64, count: Int, into buffer: inout ByteBuffer) throws
    /// Releases the file; called once when the transfer ends.
    func close()
}

/// Why a requested file is not served; `reason` names it for counters.
public enum TFTPContentError: Error, Sendable, Hashable {
    case notFound
    /// Outside the root once symlinks are resolved, or not a regular file (a device, a directory).
    case accessDenied(reason: String)
    case readFailed(errno: Int32)
    /// The bytes are still on their way (an upstream fill): ask again shortly.
    case notYetAvailable

    public var reason: String {
        switch self {
        case .notFound: "not-found"
        case .accessDenied(let reason): reason
        case .readFailed: "read-failed"
        case .notYetAvailable: "not-yet-available"
        }
    }

    /// What the client's ERROR says (never the server's paths or details).
    public var clientMessage: String {
        switch self {
        case .notFound: "file not found"
        case .accessDenied(reason: "upstream-too-large"): "file larger than the server's cache"
        case .accessDenied(reason: "upstream-cache-full"): "server busy, try again"
        case .accessDenied, .readFailed, .notYetAvailable: "access violation"
        }
    }
}

/// Where TFTP content comes from: a directory, rendered per-host files, an upstream.
public protocol TFTPContentSource: Sendable {
    /// Opens a normalized relative path (see `TFTPPath.normalize`) for `client`.
    func open(_ path: String, client: IPv4Address) throws(TFTPContentError) -> any TFTPContent
    /// The same, for sources that must wait for something (an upstream's answer). The
    /// default opens synchronously.
    func open(_ path: String, client: IPv4Address, on eventLoop: any EventLoop) -> EventLoopFuture<any TFTPContent>
}

extension TFTPContentSource {
    public func open(_ path: String, client: IPv4Address, on eventLoop: any EventLoop) -> EventLoopFuture<any TFTPContent> {
        do {
            return eventLoop.makeSucceededFuture(try open(path, client: client))
        } catch {
            return eventLoop.makeFailedFuture(error)
        }
    }
}

/// The first source that has a file, then the next (a local directory in front of an upstream).
public struct FallbackContentSource: TFTPContentSource {
    public let sources: [any TFTPContentSource]

    public init(_ sources: [any TFTPContentSource]) { self.sources = sources }

    public func open(_ path: String, client: IPv4Address) throws(TFTPContentError) -> any TFTPContent {
        for source in sources.dropLast() {
            do { return try source.open(path, client: client) } catch .notFound { continue }
        }
        guard let last = sources.last else { throw .notFound }
        return try last.open(path, client: client)
    }

    public func open(_ path: String, client: IPv4Address, on eventLoop: any EventLoop) -> EventLoopFuture<any TFTPContent> {
        var future: EventLoopFuture<any TFTPContent> = eventLoop.makeFailedFuture(TFTPContentError.notFound)
        for source in sources {
            future = future.flatMapError { error in
                guard case .notFound? = error as? TFTPContentError else { return eventLoop.makeFailedFuture(error) }
                return source.open(path, client: client, on: eventLoop)
            }
        }
        return future
    }
}

/// A file of a directory, read with `pread` at each block's offset.
final class FileContent: TFTPContent {
    let size: UInt64
    private let descriptor: Int32
    private let closed = Atomic<Bool>(false)

    init(descriptor: Int32, size: UInt64) {
        self.descriptor = descriptor
        self.size = size
    }

    func read(offset: UInt64, count: Int, into buffer: inout ByteBuffer) throws {
        guard count > 0 else { return }
        let descriptor = self.descriptor
        var done = 0
        while done < count {
            let got = buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: count - done) { pointer in
                let n = pread(descriptor, pointer.baseAddress, count - done, off_t(offset) + off_t(done))
                return max(n, 0)
            }
            // A file that shrank under a running transfer, or an I/O error: the transfer fails.
            if got == 0 { throw TFTPContentError.readFailed(errno: errno) }
            done += got
        }
    }

    func close() {
        if !closed.exchange(true, ordering: .acquiringAndReleasing) { _ = Glibc.close(descriptor) }
    }

    deinit { close() }
}

/// Bytes held in memory (rendered per-host files).
public struct MemoryContent: TFTPContent {
    public let bytes: [UInt8]
    public var size: UInt64 { UInt64(bytes.count) }

    public init(_ bytes: [UInt8]) { self.bytes = bytes }

    public func read(offset: UInt64, count: Int, into buffer: inout ByteBuffer) throws {
        let start = Int(offset)
        guard start >= 0, count >= 0, start + count <= bytes.count else { throw TFTPContentError.readFailed(errno: EINVAL) }
        buffer.writeBytes(bytes[start..<start + count])
    }

    public func close() {}
}

/// Regular files under one directory. No path leaves it: the requested name is already free
/// of `..`, and the real path (symlinks resolved) must still lie under the root's real path.
public struct DirectoryContentSource: TFTPContentSource {
    /// The root's real path.
    public let root: String

    public init(root: String) throws(TFTPContentError) {
        guard let resolved = Self.realPath(root) else { throw .notFound }
        self.root = resolved
    }

    public func open(_ path: String, client: IPv4Address) throws(TFTPContentError) -> any TFTPContent {
        guard let resolved = Self.realPath(root + "/" + path) else { throw .notFound }
        guard resolved.hasPrefix(root == "/" ? "/" : root + "/") else { throw .accessDenied(reason: "outside-root") }
        // O_NOFOLLOW: the resolved path names no symlink; if one was swapped in since, refuse it.
        let descriptor = Glibc.open(resolved, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)
        guard descriptor >= 0 else { throw errno == ENOENT ? .notFound : .accessDenied(reason: "unreadable") }
        var status = stat()
        guard fstat(descriptor, &status) == 0, status.st_mode & S_IFMT == S_IFREG else {
            _ = Glibc.close(descriptor)
            throw .accessDenied(reason: "not-a-regular-file")
        }
        return FileContent(descriptor: descriptor, size: UInt64(status.st_size))
    }

    static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}

/// Files that exist only in memory (per-host rendered files such as `hosts/<name>/boot.ipxe`),
/// looked up through a closure, in front of another source.
public struct OverlayContentSource: TFTPContentSource {
    /// The bytes of `path` for `client`, or nil to fall through to `base`.
    public typealias Lookup = @Sendable (_ path: String, _ client: IPv4Address) -> [UInt8]?

    public let lookup: Lookup
    public let base: (any TFTPContentSource)?

    public init(base: (any TFTPContentSource)?, lookup: @escaping Lookup) {
        self.base = base
        self.lookup = lookup
    }

    public func open(_ path: String, client: IPv4Address) throws(TFTPContentError) -> any TFTPContent {
        if let bytes = lookup(path, client) { return MemoryContent(bytes) }
        guard let base else { throw .notFound }
        return try base.open(path, client: client)
    }

    public func open(_ path: String, client: IPv4Address, on eventLoop: any EventLoop) -> EventLoopFuture<any TFTPContent> {
        if let bytes = lookup(path, client) { return eventLoop.makeSucceededFuture(MemoryContent(bytes)) }
        guard let base else { return eventLoop.makeFailedFuture(TFTPContentError.notFound) }
        return base.open(path, client: client, on: eventLoop)
    }
}

/// A path → bytes table that can be filled while the server runs (rendered files).
public final class TFTPMemoryFiles: Sendable {
    private let files = Mutex<[String: [UInt8]]>([:])

    public init(_ initial: [String: [UInt8]] = [:]) { files.withLock { $0 = initial } }

    public func set(_ path: String, _ bytes: [UInt8]?) { files.withLock { $0[path] = bytes } }
    public func replaceAll(_ table: [String: [UInt8]]) { files.withLock { $0 = table } }
    public func bytes(_ path: String) -> [UInt8]? { files.withLock { $0[path] } }

    /// This table as an overlay's lookup.
    public var lookup: OverlayContentSource.Lookup { { [self] path, _ in self.bytes(path) } }
}

/// One transfer's view of its content: reads a chunk of whole blocks at a time (one `pread`
/// for many small blocks), and serves blocks from it until the transfer moves past it.
struct ReadAheadContent {
    /// About this much is read at once (at least one block).
    static let chunkBytes = 64 * 1024

    let content: any TFTPContent
    private let chunkSize: Int
    private var chunk: ByteBuffer?
    private var chunkOffset: UInt64 = 0

    init(_ content: any TFTPContent, blockSize: Int) {
        self.content = content
        chunkSize = max(blockSize, Self.chunkBytes / blockSize * blockSize)
    }

    mutating func read(offset: UInt64, count: Int, into buffer: inout ByteBuffer) throws {
        guard count > 0 else { return }
        // Copied straight from the chunk's bytes: a slice of it would cost a retain and a release per block.
        let copied = chunk?.withUnsafeReadableBytes { bytes -> Bool in
            guard offset >= chunkOffset, offset + UInt64(count) <= chunkOffset + UInt64(bytes.count) else { return false }
            let start = Int(offset - chunkOffset)
            buffer.writeBytes(UnsafeRawBufferPointer(rebasing: bytes[start..<start + count]))
            return true
        }
        if copied == true { return }
        guard content.size > offset else { throw TFTPContentError.readFailed(errno: EINVAL) }
        let length = Int(min(UInt64(max(chunkSize, count)), content.size - offset))
        guard length >= count else { throw TFTPContentError.readFailed(errno: EINVAL) }
        var fresh = ByteBufferAllocator().buffer(capacity: length)
        do {
            try content.read(offset: offset, count: length, into: &fresh)
        } catch TFTPContentError.notYetAvailable where length > count {
            // A file still filling from its upstream: this block may be there even if the chunk is not.
            try content.read(offset: offset, count: count, into: &buffer)
            return
        }
        chunk = fresh
        chunkOffset = offset
        buffer.writeImmutableBuffer(fresh.getSlice(at: fresh.readerIndex, length: count)!)
    }

    func close() { content.close() }
}
