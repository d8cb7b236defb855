import Boot
import Glibc
import Hummingbird
import Logging
import NIOCore
import NIOPosix

/// Serves a directory's regular files below a URL prefix, GET and HEAD, with one byte range
/// and the usual validators (`StaticFileAnswer`).
///
/// This replaces Hummingbird's FileMiddleware, which (2.28) answers a range past the end
/// with 206 and a negative Content-Length, reads `bytes=-N` as the first N+1 bytes,
/// answers HEAD with Range as 200, and follows symlinks anywhere. Here a file is opened
/// below the directory and served only if the file actually opened lies inside the
/// directory (symlinks resolved): a symlink to elsewhere in the directory is served, one
/// leading out (to /etc/passwd, to ../tokens) is refused with 403.
struct StaticFiles<Context: RequestContext>: RouterMiddleware {
    /// Where the directory is served, e.g. "/files".
    let prefix: String
    let directory: String
    /// Told of each file refused because it leads out of the directory.
    let refused: @Sendable () -> Void
    let logger: Logger

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard request.method == .get || request.method == .head else { return try await next(request, context) }
        let relative: String
        switch StaticFilePath(requestPath: request.uri.path, prefix: prefix) {
        case .elsewhere: return try await next(request, context)
        case .refused: throw HTTPError(.notFound)
        case .file(let path): relative = path
        }
        let directory = directory
        let opened = try await NIOThreadPool.singleton.runIfActive { OpenFile.open(relative, below: directory) }
        let file: OpenFile
        switch opened {
        case .success(let open): file = open
        case .failure(.missing): throw HTTPError(.notFound)
        case .failure(.outside(let target)):
            refused()
            logger.notice("refused \(request.uri.path): it leads out of \(directory) to \(target)")
            throw HTTPError(.forbidden)
        }

        let answer = StaticFileAnswer(
            size: file.size, modified: file.modified, version: file.version,
            request: .init(range: request.headers[.range], ifRange: request.headers[.ifRange],
                           ifNoneMatch: request.headers[.ifNoneMatch], ifModifiedSince: request.headers[.ifModifiedSince]))
        var headers = HTTPFields()
        for header in answer.headers {
            switch header.name {
            case .contentLength: headers[.contentLength] = header.value
            case .contentRange: headers[.contentRange] = header.value
            case .acceptRanges: headers[.acceptRanges] = header.value
            case .eTag: headers[.eTag] = header.value
            case .lastModified: headers[.lastModified] = header.value
            }
        }
        let name = relative.split(separator: "/").last ?? ""
        if let dot = name.lastIndex(of: "."),
           let type = MediaType.getMediaType(forExtension: String(name[name.index(after: dot)...])) {
            headers[.contentType] = type.description
        }
        let status = HTTPResponse.Status(code: answer.status)
        guard request.method == .get, let span = answer.body else {
            // HEAD: the GET's status and headers; the Content-Length stays the GET's.
            return Response(status: status, headers: headers, body: .init())
        }
        return Response(status: status, headers: headers, body: ResponseBody(contentLength: span.length) { writer in
            var offset = span.offset, remaining = span.length
            while remaining > 0 {
                let want = min(remaining, 128 * 1024), at = offset
                let chunk = try await NIOThreadPool.singleton.runIfActive { try file.read(at: at, count: want) }
                offset += chunk.readableBytes
                remaining -= chunk.readableBytes
                try await writer.write(chunk)
            }
            try await writer.finish(nil)
        })
    }
}

/// A file opened for serving; closed when the last reference (the response body) goes.
private final class OpenFile: Sendable {
    enum Refusal: Error {
        /// Not there, not a regular file, or not readable.
        case missing
        /// It resolves to this path, outside the directory.
        case outside(String)
    }

    struct ShortRead: Error {}

    let descriptor: CInt
    let size: Int
    let modified: Int64
    /// Inode, size and modification time: a new version of the file gets a new ETag.
    let version: String

    private init(descriptor: CInt, status: stat) {
        self.descriptor = descriptor
        size = Int(status.st_size)
        modified = Int64(status.st_mtim.tv_sec)
        version = String(UInt64(status.st_ino), radix: 16) + "-" + String(size, radix: 16) + "-"
            + String(Int64(status.st_mtim.tv_sec) &* 1_000_000_000 &+ Int64(status.st_mtim.tv_nsec), radix: 16)
    }

    deinit { Glibc.close(descriptor) }

    /// Opens `relative` below `directory` (blocking: call it on a thread pool). Where the
    /// file really is comes from the open descriptor itself, so a symlink swapped in between
    /// a check and the open cannot lead out.
    static func open(_ relative: String, below directory: String) -> Result<OpenFile, Refusal> {
        guard let root = realPath(directory) else { return .failure(.missing) }
        // O_NONBLOCK: a FIFO placed in the directory must not hang the open.
        let descriptor = Glibc.open(root + "/" + relative, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)
        guard descriptor >= 0 else { return .failure(.missing) }
        var status = stat()
        guard fstat(descriptor, &status) == 0, status.st_mode & S_IFMT == S_IFREG else {
            close(descriptor)
            return .failure(.missing)
        }
        guard let actual = openedPath(descriptor), StaticFilePath.isInside(root: root, path: actual) else {
            close(descriptor)
            return .failure(.outside(openedPath(descriptor) ?? "?"))
        }
        return .success(OpenFile(descriptor: descriptor, status: status))
    }

    /// Up to `count` bytes at `offset`; throws when the file ends first (it shrank since
    /// the answer's Content-Length was set) or cannot be read.
    func read(at offset: Int, count: Int) throws -> ByteBuffer {
        var buffer = ByteBufferAllocator().buffer(capacity: count)
        _ = try buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: count) { pointer -> Int in
            while true {
                let result = pread(descriptor, pointer.baseAddress, count, off_t(offset))
                if result < 0, errno == EINTR { continue }
                guard result > 0 else { throw ShortRead() }
                return result
            }
        }
        return buffer
    }
}

private func realPath(_ path: String) -> String? {
    guard let resolved = realpath(path, nil) else { return nil }
    defer { free(resolved) }
    return String(cString: resolved)
}

/// The path of what a descriptor refers to, as the kernel resolved it.
private func openedPath(_ descriptor: CInt) -> String? {
    var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
    let length = readlink("/proc/self/fd/\(descriptor)", &buffer, buffer.count - 1)
    guard length > 0 else { return nil }
    return String(decoding: buffer[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
