/// What is wrong inside an option that carries length-framed items (Option 82's
/// sub-options, option 124's and 125's enterprise blocks and what they hold, option 175),
/// and where. Offsets count from the first byte of the option's data.
public enum OptionDataError: Error, Sendable, Hashable {
    /// The option has no data, where it must carry at least one item (Option 82).
    case empty
    /// The item starting at `offset` ends inside its header (code, enterprise, or its
    /// length byte): `available` bytes were left of the `needed`.
    case truncatedHeader(offset: Int, needed: Int, available: Int)
    /// The item starting at `offset` says `length` data bytes, but only `available`
    /// are left in its container.
    case overrun(offset: Int, length: Int, available: Int)
    /// Writing: item `index` of its list holds `length` bytes, more than its one length
    /// byte can say (255). Refused, never truncated.
    case tooLong(index: Int, length: Int)
}

/// The one framing every structured option here is built from: items of a fixed-size
/// header (nothing, a code, an enterprise number), one length byte, then that many data
/// bytes, filling their container exactly.
enum LengthFramed {
    struct Item: Hashable {
        /// The header bytes read big-endian (a code, an enterprise number; 0 for none).
        var header: UInt32
        var data: [UInt8]
        /// Where the item's header starts, counted from the first byte of the option.
        var offset: Int
    }

    /// Parses items with `headerSize` (0...4) header bytes from `data`. `base` is where
    /// `data` starts inside the option, so errors in nested items say where they are in it.
    static func parse(_ data: [UInt8], headerSize: Int, base: Int = 0) throws(OptionDataError) -> [Item] {
        try parse(data, headerSize: headerSize, base: base) { Item(header: $0, data: $1, offset: $2) }
    }

    /// The same, each item made into `T` from its header, data and offset as it is read
    /// (Option 82 is parsed on every relayed request: no list in between).
    static func parse<T>(_ data: [UInt8], headerSize: Int, base: Int = 0,
                         _ make: (_ header: UInt32, _ data: [UInt8], _ offset: Int) -> T) throws(OptionDataError) -> [T] {
        var reader = ByteReader(data)
        var items: [T] = []
        while !reader.isAtEnd {
            let start = reader.offset
            guard reader.remaining > headerSize else {
                throw .truncatedHeader(offset: base + start, needed: headerSize + 1, available: reader.remaining)
            }
            var header: UInt32 = 0
            for _ in 0..<headerSize { header = header << 8 | UInt32(reader.u8() ?? 0) }
            let length = Int(reader.u8() ?? 0)
            guard let value = reader.take(length) else {
                throw .overrun(offset: base + start, length: length, available: reader.remaining)
            }
            items.append(make(header, value, base + start))
        }
        return items
    }

    /// Appends one item (header, length byte, data); `.tooLong` names it by `index`.
    static func append(header: UInt32, headerSize: Int, data: some Collection<UInt8>, index: Int,
                       to out: inout [UInt8]) throws(OptionDataError) {
        guard data.count <= 255 else { throw .tooLong(index: index, length: data.count) }
        var shift = headerSize * 8
        while shift > 0 {
            shift -= 8
            out.append(UInt8(truncatingIfNeeded: header >> UInt32(shift)))
        }
        out.append(UInt8(data.count))
        out += data
    }
}

/// Code/length/data sub-options (RFC 2132 §8.4 style), as in options 43, 82, 125's
/// enterprise blocks and 175. Symmetric: `serialize(parse(d)) == d` for every `d` that
/// parses, and `parse(serialize(s)) == s` for every `s` that serializes.
public enum SubOptions {
    public static func parse(_ data: [UInt8], base: Int = 0) throws(OptionDataError) -> [DHCPOption] {
        try LengthFramed.parse(data, headerSize: 1, base: base) { code, value, _ in DHCPOption(UInt8(truncatingIfNeeded: code), value) }
    }

    /// The wire bytes; `.tooLong` for a sub-option over 255 bytes.
    public static func serialize(_ subOptions: [DHCPOption]) throws(OptionDataError) -> [UInt8] {
        var out: [UInt8] = []
        for (index, option) in subOptions.enumerated() {
            try LengthFramed.append(header: UInt32(option.code), headerSize: 1, data: option.data, index: index, to: &out)
        }
        return out
    }
}

/// RFC 3925's framing for options 124 and 125: blocks of enterprise number (4 bytes),
/// length byte and that many data bytes.
enum EnterpriseBlocks {
    struct Block {
        var enterprise: UInt32
        var data: [UInt8]
        /// Where the block's data starts in the option.
        var dataOffset: Int
    }

    static func parse(_ data: [UInt8]) throws(OptionDataError) -> [Block] {
        try LengthFramed.parse(data, headerSize: 4).map { item in
            Block(enterprise: item.header, data: item.data, dataOffset: item.offset + 5)
        }
    }

    /// `.tooLong` names the enterprise block whose data does not fit its length byte.
    static func serialize(_ blocks: [(enterprise: UInt32, data: [UInt8])]) throws(OptionDataError) -> [UInt8] {
        var out: [UInt8] = []
        for (index, block) in blocks.enumerated() {
            try LengthFramed.append(header: block.enterprise, headerSize: 4, data: block.data, index: index, to: &out)
        }
        return out
    }
}
