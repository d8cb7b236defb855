extension ZoneSource {
    /// A stable fingerprint of what the revision is made of: the zone text and every
    /// template, whatever the file was called. FNV-1a (64 bits) is enough to tell
    /// "changed" from "unchanged"; it is not a security boundary.
    public var digest: String {
        // A changed secret file changes the digest, by its SHA-256 (the content is never here).
        let secrets = (secretDigests ?? [:]).sorted { $0.key < $1.key }.flatMap { ["secret-file " + $0.key, $0.value] }
        return ZoneSource.fnv1a([text] + files.keys.sorted().flatMap { [$0, files[$0] ?? ""] } + secrets)
    }

    static func fnv1a(_ parts: [String]) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for part in parts {
            for byte in part.utf8 {
                hash ^= UInt64(byte)
                hash = hash &* 0x0000_0100_0000_01b3
            }
            // A separator, so ["ab", "c"] and ["a", "bc"] differ.
            hash ^= 0xff
            hash = hash &* 0x0000_0100_0000_01b3
        }
        let hex = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}
