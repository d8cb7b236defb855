/// Which file below a served directory a request path names, decided without the file
/// system: the server then opens that relative path below the directory and checks where
/// the opened file really is (`isInside`), so a symlink cannot lead out.
public enum StaticFilePath: Equatable, Sendable {
    /// The path is not below the prefix: another route's.
    case elsewhere
    /// Below the prefix but not a plain relative file path (`..`, `.`, empty or NUL
    /// components, bad percent-encoding, the directory itself): answered 404.
    case refused
    /// The file's path relative to the served directory, components joined by "/".
    case file(String)

    /// - Parameters:
    ///   - requestPath: the request's path as sent (percent-encoded, no query).
    ///   - prefix: where the directory is served, e.g. "/files" (no trailing slash).
    public init(requestPath: String, prefix: String) {
        guard let path = percentDecoded(requestPath) else {
            self = requestPath.hasPrefix(prefix + "/") ? .refused : .elsewhere
            return
        }
        guard path.hasPrefix(prefix + "/") else { self = .elsewhere; return }
        let relative = path.utf8.dropFirst(prefix.utf8.count + 1)
        let plain = relative.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false).allSatisfy { component in
            !component.isEmpty && !component.contains(0)
                && !component.elementsEqual(".".utf8) && !component.elementsEqual("..".utf8)
        }
        self = plain ? .file(String(Substring(relative))) : .refused
    }

    /// Whether `path` (absolute, symlinks resolved) lies strictly below `root` (absolute,
    /// symlinks resolved): "/srv/files2/x" is not below "/srv/files".
    public static func isInside(root: String, path: String) -> Bool {
        let base = root.hasSuffix("/") ? root : root + "/"
        return path.utf8.count > base.utf8.count && path.utf8.starts(with: base.utf8)
    }
}

/// `%XX` escapes decoded; nil for a truncated or non-hex escape or a result that is not UTF-8.
private func percentDecoded(_ text: String) -> String? {
    let bytes = Array(text.utf8)
    var decoded: [UInt8] = []
    decoded.reserveCapacity(bytes.count)
    var index = 0
    while index < bytes.count {
        if bytes[index] == UInt8(ascii: "%") {
            guard index + 2 < bytes.count, let high = hexValue(bytes[index + 1]), let low = hexValue(bytes[index + 2]) else {
                return nil
            }
            decoded.append(high << 4 | low)
            index += 3
        } else {
            decoded.append(bytes[index])
            index += 1
        }
    }
    return String(validating: decoded, as: UTF8.self)
}

private func hexValue(_ byte: UInt8) -> UInt8? {
    switch byte {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
    default: nil
    }
}
