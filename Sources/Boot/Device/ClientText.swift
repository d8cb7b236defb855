/// What a client says about itself (serial, model, vendor class) reaches kickstart `%post`,
/// preseed, hooks' JSON and logs, some of them run as root. It is kept only where it is
/// plainly data there: a narrow alphabet and a short length, never escaped after the fact,
/// so every template and hook can rely on it as it is.
public enum ClientText {
    public static let maximumLength = 64

    /// The text as sent when it is 1 to 64 bytes of `[A-Za-z0-9._:/+-]` and `_`, with single
    /// spaces between words (`udhcp 1.35.0`, `MSFT 5.0`: a space splits words, it runs
    /// nothing); else nil (the caller stores it as absent and counts it).
    public static func safe(_ text: String) -> String? {
        let bytes = Array(text.utf8)
        guard let first = bytes.first, let last = bytes.last, bytes.count <= maximumLength,
              isSafe(first), isSafe(last), bytes.allSatisfy({ isSafe($0) || $0 == UInt8(ascii: " ") }),
              !zip(bytes, bytes.dropFirst()).contains(where: { $0 == UInt8(ascii: " ") && $1 == UInt8(ascii: " ") })
        else { return nil }
        return text
    }

    static func isSafe(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            true
        case UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: ":"), UInt8(ascii: "/"), UInt8(ascii: "+"), UInt8(ascii: "-"):
            true
        default:
            false
        }
    }
}
