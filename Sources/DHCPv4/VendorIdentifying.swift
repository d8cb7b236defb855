/// RFC 3925 option 125, Vendor-Identifying Vendor-Specific Information (VIVSO): sub-options
/// grouped under the IANA enterprise number that defines them. ONIE reads its installer
/// URL from enterprise 42623, sub-option 1, and sends its machine, arch and revision in
/// sub-options 3, 4 and 5 of the same enterprise.
///
/// Wire form, repeated: enterprise (4 bytes), data length (1 byte), then code/length/data
/// sub-options filling exactly that length.
public struct VendorIdentifyingOptions: Sendable, Hashable {
    public struct Vendor: Sendable, Hashable {
        public var enterprise: UInt32
        public var subOptions: [DHCPOption]

        public init(enterprise: UInt32, subOptions: [DHCPOption]) {
            self.enterprise = enterprise
            self.subOptions = subOptions
        }
    }

    public var vendors: [Vendor]

    public init(_ vendors: [Vendor]) { self.vendors = vendors }

    /// Parses option 125's data; nil where a length runs past its container, never a trap.
    public init?(parsing data: [UInt8]) {
        var reader = ByteReader(data)
        var vendors: [Vendor] = []
        while !reader.isAtEnd {
            guard let enterprise = reader.u32(), let length = reader.u8(), let body = reader.take(Int(length)),
                  let subOptions = DHCPOptions.subOptions(body) else { return nil }
            vendors.append(Vendor(enterprise: enterprise, subOptions: subOptions))
        }
        self.vendors = vendors
    }

    /// The wire bytes; nil when a sub-option's data exceeds 255 bytes or one enterprise's
    /// sub-options together do (the format has one length byte for each).
    public var serialized: [UInt8]? {
        var out: [UInt8] = []
        for vendor in vendors {
            var body: [UInt8] = []
            for option in vendor.subOptions {
                guard option.data.count <= 255 else { return nil }
                body.append(option.code)
                body.append(UInt8(option.data.count))
                body += option.data
            }
            guard body.count <= 255 else { return nil }
            out.appendU32(vendor.enterprise)
            out.append(UInt8(body.count))
            out += body
        }
        return out
    }

    /// The first sub-option `code` of `enterprise`, if sent.
    public func subOption(_ code: UInt8, enterprise: UInt32) -> [UInt8]? {
        for vendor in vendors where vendor.enterprise == enterprise {
            if let found = vendor.subOptions.first(where: { $0.code == code }) { return found.data }
        }
        return nil
    }
}

/// RFC 3925 option 124, Vendor-Identifying Vendor Class: opaque class strings grouped
/// under an IANA enterprise number. Wire form, repeated: enterprise (4 bytes), data length
/// (1 byte), then length-prefixed class items filling exactly that length.
public struct VendorIdentifyingClasses: Sendable, Hashable {
    public struct Vendor: Sendable, Hashable {
        public var enterprise: UInt32
        public var classes: [[UInt8]]

        public init(enterprise: UInt32, classes: [[UInt8]]) {
            self.enterprise = enterprise
            self.classes = classes
        }
    }

    public var vendors: [Vendor]

    public init(_ vendors: [Vendor]) { self.vendors = vendors }

    /// Parses option 124's data; nil where a length runs past its container.
    public init?(parsing data: [UInt8]) {
        var reader = ByteReader(data)
        var vendors: [Vendor] = []
        while !reader.isAtEnd {
            guard let enterprise = reader.u32(), let length = reader.u8(), let body = reader.take(Int(length)) else { return nil }
            var items = ByteReader(body)
            var classes: [[UInt8]] = []
            while let itemLength = items.u8() {
                guard let item = items.take(Int(itemLength)) else { return nil }
                classes.append(item)
            }
            vendors.append(Vendor(enterprise: enterprise, classes: classes))
        }
        self.vendors = vendors
    }

    /// The wire bytes; nil when one enterprise's items do not fit its one length byte.
    public var serialized: [UInt8]? {
        var out: [UInt8] = []
        for vendor in vendors {
            var body: [UInt8] = []
            for item in vendor.classes {
                guard item.count <= 255 else { return nil }
                body.append(UInt8(item.count))
                body += item
            }
            guard body.count <= 255 else { return nil }
            out.appendU32(vendor.enterprise)
            out.append(UInt8(body.count))
            out += body
        }
        return out
    }

    /// Every class item as text (bytes that are not UTF-8 replaced), with its enterprise.
    public var texts: [(enterprise: UInt32, text: String)] {
        vendors.flatMap { vendor in vendor.classes.map { (vendor.enterprise, DHCPOptions.text($0)) } }
    }
}
