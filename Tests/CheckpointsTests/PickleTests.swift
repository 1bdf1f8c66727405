import Checkpoints
import Foundation
import DeepfakeCore
import XCTest

/// Assembles pickle opcodes by hand, for hostile and edge-case streams.
struct PickleAssembler {
    var bytes: [UInt8] = []

    init(protocol p: UInt8? = 4) { if let p { bytes = [0x80, p] } }

    mutating func op(_ o: UInt8...) { bytes += o }
    mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
    mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
    mutating func str(_ s: String) {
        let u = Array(s.utf8)
        if u.count < 256 { op(0x8C, UInt8(u.count)) } else { op(0x58); u32(UInt32(u.count)) }
        bytes += u
    }
    mutating func int(_ v: Int32) { op(0x4A); u32(UInt32(bitPattern: v)) }
    mutating func binbytes(_ b: [UInt8]) { op(0x8E); u64(UInt64(b.count)); bytes += b }
    mutating func stackGlobal(_ module: String, _ name: String) { str(module); str(name); op(0x93) }
    mutating func textGlobal(_ module: String, _ name: String) { op(0x63); bytes += Array("\(module)\n\(name)\n".utf8) }
    mutating func stop() { op(0x2E) }

    /// numpy ≥ 1 `ndarray.__reduce__` form: _reconstruct + BUILD(1, shape, dtype, False, raw).
    mutating func ndarray(module: String = "numpy.core.multiarray", type: String, order: String = "<", shape: [Int], raw: [UInt8]) {
        stackGlobal(module, "_reconstruct")
        stackGlobal("numpy", "ndarray")
        op(0x4B, 0, 0x85)  // (0,)
        op(0x43, 1, 0x62)  // b'b'
        op(0x87, 0x52)  // TUPLE3 REDUCE
        op(0x28)
        op(0x4B, 1)
        op(0x28); for d in shape { int(Int32(d)) }; op(0x74)
        dtype(type, order: order)
        op(0x89)
        binbytes(raw)
        op(0x74, 0x62)  // TUPLE BUILD
    }

    mutating func dtype(_ type: String, order: String) {
        stackGlobal("numpy", "dtype")
        str(type); op(0x89, 0x88, 0x87, 0x52)
        op(0x28); op(0x4B, 3); str(order); op(0x4E, 0x4E, 0x4E); int(-1); int(-1); op(0x4B, 0); op(0x74, 0x62)
    }
}

func loadError(_ bytes: [UInt8], limits: PickleLimits = PickleLimits(), buffers: [[UInt8]] = []) -> PickleError? {
    do {
        _ = try Pickle.load(bytes: bytes, buffers: buffers, limits: limits)
        return nil
    } catch {
        return error
    }
}

final class PickleValueTests: XCTestCase {
    func expectedPlain() -> PickleValue {
        var inner = PickleDict()
        inner.set(.string("k"), .tuple([.int(1), .tuple([.int(2), .tuple([.int(3)])])]))
        var d = PickleDict()
        d.set(.string("a"), .list([
            .int(1), .float(2.5), .string("x"), .bytes([0x79]), .none, .bool(true), .bool(false),
            .tuple([.int(1), .int(2)]), .set([.int(3)]), .frozenset([.int(4)]), .int(1 << 40), .int(-5), .int(Int64.min),
            .string("ü€"), .bytes([0, 255]), .tuple([]), .list([]), .dict(PickleDict()),
        ]))
        d.set(.string("nested"), .dict(inner))
        return .dict(d)
    }

    /// The same Python value pickled with protocols 0 to 5 reads back identically.
    func testAllProtocolsDecodeTheSameValue() throws {
        let samples = [PickleSamplesNumpy2.plainP0, PickleSamplesNumpy2.plainP1, PickleSamplesNumpy2.plainP2,
                       PickleSamplesNumpy2.plainP3, PickleSamplesNumpy2.plainP4, PickleSamplesNumpy2.plainP5]
        for (p, hex) in samples.enumerated() {
            let value = try Pickle.load(bytes: hexBytes(hex))
            XCTAssertEqual(value, expectedPlain(), "protocol \(p)")
        }
    }

    func checkArrays(_ value: PickleValue, _ label: String) throws {
        guard case let .dict(d) = value else { return XCTFail("\(label): not a dict") }
        struct NotAnArray: Error {}
        func array(_ k: String) throws -> NDArray {
            guard case let .array(a)? = d[k] else {
                XCTFail("\(label): \(k) is not an array: \(d[k]?.kindDescription ?? "missing")")
                throw NotAnArray()
            }
            return a
        }
        let f4 = try array("f4")
        XCTAssertEqual(f4.shape, [2, 3]); XCTAssertEqual(f4.dtype.descr, "<f4"); XCTAssertFalse(f4.fortranOrder)
        XCTAssertEqual(try f4.floats(), [0, 0.25, 0.5, 0.75, 1, 1.25], label)
        let f4F = try array("f4F")
        XCTAssertTrue(f4F.fortranOrder, label)
        XCTAssertEqual(try f4F.floats(), [0, 0.25, 0.5, 0.75, 1, 1.25], label)
        XCTAssertEqual(try f4F.doubles(), [0, 0.25, 0.5, 0.75, 1, 1.25], label)
        let i4 = try array("i4be")
        XCTAssertEqual(i4.dtype.byteOrder, .big); XCTAssertEqual(try i4.int64s(), [1, -2, 3], label)
        XCTAssertEqual(try array("b1").bools(), [true, false, true], label)
        let u8 = try array("u8")
        XCTAssertThrowsError(try u8.int64s())
        XCTAssertEqual(try u8.doubles(), [1, Double(UInt64(1) << 63 + 5)], label)
        XCTAssertEqual(try array("U").strings(), ["ab", "c€"], label)
        let o = try array("O")
        XCTAssertEqual(o.dtype.kind, .object)
        XCTAssertEqual(try o.elements(), [.string("x"), .int(1)], label)
        let f8s = try array("f8s")
        XCTAssertEqual(f8s.shape, []); XCTAssertEqual(d["f8s"]?.doubleValue, 1.25, label)
        XCTAssertEqual(d["i8s"]?.intValue, -7, label)
        XCTAssertEqual(try array("f2").doubles(), [1.5, -0.25, 65504], label)
        let f83d = try array("f83d"), f83dF = try array("f83dF")
        XCTAssertEqual(try f83d.doubles(), (0..<24).map(Double.init), label)
        XCTAssertEqual(f83dF.shape, [2, 3, 4]); XCTAssertTrue(f83dF.fortranOrder, label)
        XCTAssertEqual(try f83dF.doubles(), (0..<24).map(Double.init), label)
    }

    /// numpy arrays of many dtypes, C/Fortran order, scalars: numpy 1 (numpy.core) and numpy 2 (numpy._core)
    /// pickles, protocols 2 (bytes via _codecs.encode), 4 (_reconstruct) and 5 (_frombuffer + in-band buffers).
    func testNumpyArrays() throws {
        let samples: [(String, String)] = [
            ("numpy2 p2", PickleSamplesNumpy2.arraysP2), ("numpy2 p4", PickleSamplesNumpy2.arraysP4), ("numpy2 p5", PickleSamplesNumpy2.arraysP5),
            ("numpy1 p2", PickleSamplesNumpy1.arraysP2), ("numpy1 p4", PickleSamplesNumpy1.arraysP4), ("numpy1 p5", PickleSamplesNumpy1.arraysP5),
        ]
        for (label, hex) in samples { try checkArrays(try Pickle.load(bytes: hexBytes(hex)), label) }
    }

    /// Protocol 5 out-of-band buffers: NEXT_BUFFER takes the supplied buffers in order.
    func testOutOfBandBuffers() throws {
        var a = PickleAssembler(protocol: 5)
        a.stackGlobal("numpy._core.numeric", "_frombuffer")
        a.op(0x28, 0x97, 0x98)  // MARK NEXT_BUFFER READONLY_BUFFER
        a.dtype("f4", order: "<")
        a.op(0x4B, 2, 0x85); a.str("C"); a.op(0x74, 0x52); a.stop()
        let raw: [UInt8] = [0, 0, 0x80, 0x3F, 0, 0, 0, 0x40]
        guard case let .array(arr) = try Pickle.load(bytes: a.bytes, buffers: [raw]) else { return XCTFail() }
        XCTAssertEqual(try arr.floats(), [1, 2])
        guard case .unsupported? = loadError(a.bytes) else { return XCTFail("missing buffers must be refused") }
    }

    /// The memo shares mutable containers: a dict memoized before its SETITEMS is seen filled through GET.
    func testMemoSharesContainers() throws {
        var a = PickleAssembler()
        a.op(0x5D, 0x94)  // [] memo 0
        a.op(0x7D, 0x94)  // {} memo 1
        a.str("k"); a.op(0x4B, 7, 0x73)  // d['k'] = 7
        a.op(0x61)  // list.append(d)
        a.op(0x68, 1, 0x61)  // list.append(memo[1])
        a.stop()
        var d = PickleDict(); d.set(.string("k"), .int(7))
        XCTAssertEqual(try Pickle.load(bytes: a.bytes), .list([.dict(d), .dict(d)]))
    }

    /// A repeated dict key replaces the value in place (Python semantics); lookup by name also matches a
    /// Python 2 byte-string key.
    func testDictSemantics() {
        var d = PickleDict()
        d.set(.string("a"), .int(1)); d.set(.bytes(Array("b".utf8)), .int(2)); d.set(.string("a"), .int(3))
        XCTAssertEqual(d.count, 2)
        XCTAssertEqual(d["a"], .int(3))
        XCTAssertEqual(d["b"], .int(2))
        XCTAssertEqual(d.keys, [.string("a"), .bytes(Array("b".utf8))])
    }
}

final class PickleSafetyTests: XCTestCase {
    /// Names outside the allow-list are refused at GLOBAL / STACK_GLOBAL / INST, with the name in the error,
    /// however the stream continues.
    func testForbiddenGlobals() {
        let names: [(String, String)] = [
            ("os", "system"), ("posix", "system"), ("nt", "system"), ("builtins", "eval"), ("builtins", "exec"),
            ("builtins", "getattr"), ("builtins", "__import__"), ("__builtin__", "eval"), ("subprocess", "Popen"),
            ("subprocess", "check_output"), ("numpy", "load"), ("numpy.testing._private.utils", "runstring"),
            ("pickle", "loads"), ("joblib", "load"), ("torch._utils", "_rebuild_tensor_v2"), ("copyreg", "__newobj__"),
            ("sklearn.pipeline", "Pipeline"), ("numpy.core.multiarray", "fromstring"), ("builtins", "type"),
        ]
        for (module, name) in names {
            var text = PickleAssembler(protocol: nil)
            text.textGlobal(module, name)
            text.op(0xFF, 0xFF)  // garbage: the refusal must come first
            var stack = PickleAssembler()
            stack.stackGlobal(module, name)
            stack.op(0xFF)
            var inst = PickleAssembler(protocol: 1)
            inst.op(0x28); inst.op(0x69); inst.bytes += Array("\(module)\n\(name)\n".utf8); inst.stop()
            for (label, bytes) in [("GLOBAL", text.bytes), ("STACK_GLOBAL", stack.bytes), ("INST", inst.bytes)] {
                let error = loadError(bytes)
                XCTAssertEqual(error, .forbiddenGlobal(module: module, name: name), "\(label) \(module).\(name)")
                XCTAssertTrue(error?.description.contains("\(module).\(name)") ?? false)
            }
        }
    }

    /// Allowed names cannot be misused: numpy.ndarray is not callable, _reconstruct only builds ndarrays,
    /// copyreg._reconstructor only with `object` as base, records only through constructors.
    func testAllowedNamesCannotBeMisused() {
        var a = PickleAssembler()
        a.stackGlobal("numpy", "ndarray"); a.op(0x29, 0x52); a.stop()
        guard case .malformed? = loadError(a.bytes) else { return XCTFail("ndarray() must be refused") }

        var b = PickleAssembler()
        b.stackGlobal("numpy.core.multiarray", "_reconstruct")
        b.stackGlobal("builtins", "set"); b.op(0x4B, 0, 0x85); b.op(0x43, 1, 0x62); b.op(0x87, 0x52); b.stop()
        guard case .malformed? = loadError(b.bytes) else { return XCTFail("_reconstruct(set) must be refused") }

        var c = PickleAssembler()
        c.stackGlobal("copyreg", "_reconstructor")
        c.stackGlobal("sklearn.svm._classes", "OneClassSVM"); c.stackGlobal("builtins", "set"); c.op(0x4E, 0x87, 0x52); c.stop()
        guard case .unsupported? = loadError(c.bytes) else { return XCTFail("_reconstructor with base set must be refused") }

        var d = PickleAssembler()
        d.int(5); d.op(0x29, 0x81); d.stop()  // NEWOBJ on an int
        guard case .malformed? = loadError(d.bytes) else { return XCTFail("NEWOBJ on a non-class must be refused") }

        var e = PickleAssembler()
        e.int(5); e.op(0x7D, 0x62); e.stop()  // BUILD on an int
        guard case .malformed? = loadError(e.bytes) else { return XCTFail("BUILD on an int must be refused") }

        var f = PickleAssembler()
        f.stackGlobal("joblib.numpy_pickle", "NDArrayWrapper"); f.stop()
        guard case .unsupported? = loadError(f.bytes) else { return XCTFail("legacy joblib wrappers must be refused") }
    }

    /// Allowed records are data: their constructor arguments and BUILD state are kept, nothing else happens.
    func testRecordsKeepArgumentsAndState() throws {
        var a = PickleAssembler()
        a.stackGlobal("sklearn.svm._classes", "OneClassSVM"); a.op(0x29, 0x81)
        a.op(0x7D); a.str("kernel"); a.str("poly"); a.op(0x73, 0x62)
        a.op(0x7D); a.str("degree"); a.op(0x4B, 3, 0x73, 0x62)  // a second BUILD merges
        a.stop()
        guard case let .object(o) = try Pickle.load(bytes: a.bytes) else { return XCTFail() }
        XCTAssertEqual(o.className, "sklearn.svm._classes.OneClassSVM")
        XCTAssertEqual(o["kernel"], .string("poly"))
        XCTAssertEqual(o["degree"], .int(3))
    }

    func testUnknownOpcodeAndTruncation() {
        XCTAssertEqual(loadError([0x80, 4, 0xFF]), .unknownOpcode(opcode: 0xFF, offset: 2))
        XCTAssertEqual(loadError([0x80, 9, 0x2E]), .unsupported(offset: 0, reason: "pickle protocol 9 (this reader knows 0–5)"))
        guard case .truncated? = loadError([0x80, 4, 0x4E]) else { return XCTFail("no STOP") }
        guard case .malformed? = loadError([0x80, 4, 0x2E]) else { return XCTFail("STOP on empty stack") }
        guard case .malformed? = loadError([0x80, 4, 0x68, 9, 0x2E]) else { return XCTFail("GET of a missing memo key") }
        guard case .malformed? = loadError([0x80, 4, 0x5D, 0x32, 0x61, 0x2E]) else { return XCTFail("a list appended to itself") }
        guard case .unsupported? = loadError([0x80, 2, 0x50] + Array("x\n".utf8) + [0x2E]) else { return XCTFail("PERSID") }
        guard case .unsupported? = loadError([0x80, 2, 0x82, 1, 0x2E]) else { return XCTFail("EXT1") }
        guard case .unsupported? = loadError([0x80, 2, 0x8A, 9] + [UInt8](repeating: 0xFF, count: 8) + [0x7F, 0x2E]) else {
            return XCTFail("LONG1 beyond 64 bits")
        }
        XCTAssertEqual(try? Pickle.load(bytes: [0x80, 2, 0x8A, 9] + [UInt8](repeating: 0xFF, count: 9) + [0x2E]), .int(-1))
    }

    /// Every proper prefix of valid streams is an error (never a crash or a partial value).
    func testEveryPrefixFails() {
        for hex in [PickleSamplesNumpy2.arraysP2, PickleSamplesNumpy2.arraysP5, PickleSamplesNumpy1.arraysP4, PickleSamplesNumpy2.plainP0] {
            let bytes = hexBytes(hex)
            for n in 0..<bytes.count {
                XCTAssertNotNil(loadError(Array(bytes[0..<n])), "prefix \(n) of \(bytes.count)")
            }
        }
    }

    /// Declared lengths are checked against what remains before anything is allocated.
    func testForgedLengths() {
        var a = PickleAssembler(); a.op(0x8E); a.u64(1 << 62); a.op(0x61, 0x62, 0x2E)
        guard case .truncated? = loadError(a.bytes) else { return XCTFail("BINBYTES8") }
        var b = PickleAssembler(); b.op(0x8D); b.u64(UInt64.max); b.stop()
        guard case .truncated? = loadError(b.bytes) else { return XCTFail("BINUNICODE8") }
        var c = PickleAssembler(); c.op(0x8B); c.u32(0x7FFF_FFFF); c.stop()
        guard case .truncated? = loadError(c.bytes) else { return XCTFail("LONG4") }
        var d = PickleAssembler(); d.op(0x54); d.u32(0xFFFF_FFF0); d.stop()
        guard case .malformed? = loadError(d.bytes) else { return XCTFail("negative BINSTRING") }
        var e = PickleAssembler(); e.op(0x95); e.u64(1 << 40); e.op(0x4E, 0x2E)
        guard case .truncated? = loadError(e.bytes) else { return XCTFail("FRAME") }
        // An array whose shape needs more bytes than the data holds, and one whose size overflows.
        var f = PickleAssembler(); f.ndarray(type: "f4", shape: [1 << 30, 1 << 30], raw: [0, 0, 0, 0]); f.stop()
        guard case .malformed? = loadError(f.bytes) else { return XCTFail("array shape/data mismatch") }
        var g = PickleAssembler(); g.ndarray(type: "f8", shape: [Int(Int32.max), Int(Int32.max), Int(Int32.max)], raw: []); g.stop()
        guard case .malformed? = loadError(g.bytes) else { return XCTFail("array size overflow") }
    }

    /// Structural bombs hit a limit instead of exhausting memory or the call stack.
    func testStructuralLimits() {
        var deep = PickleAssembler(); deep.op(0x29); deep.bytes += [UInt8](repeating: 0x85, count: 100_000); deep.stop()
        guard case .limitExceeded? = loadError(deep.bytes) else { return XCTFail("deep nesting") }

        var deepLists = PickleAssembler()
        for _ in 0..<10_000 { deepLists.op(0x28) }
        deepLists.op(0x5D); for _ in 0..<10_000 { deepLists.op(0x6C) }
        deepLists.stop()
        guard case .limitExceeded? = loadError(deepLists.bytes) else { return XCTFail("deep lists") }

        var laughs = PickleAssembler(); laughs.op(0x5D)
        for _ in 0..<90 { laughs.op(0x32, 0x86) }  // x = (x, x)
        laughs.stop()
        guard case .limitExceeded? = loadError(laughs.bytes) else { return XCTFail("exponential sharing") }

        var memo = PickleAssembler()
        for _ in 0..<300 { memo.op(0x4E, 0x94, 0x30) }
        memo.op(0x4E); memo.stop()
        var small = PickleLimits(); small.maxMemo = 100
        guard case .limitExceeded? = loadError(memo.bytes, limits: small) else { return XCTFail("memo") }

        var stack = PickleAssembler()
        stack.bytes += [UInt8](repeating: 0x4E, count: 3000); stack.stop()
        small = PickleLimits(); small.maxStack = 1000
        guard case .limitExceeded? = loadError(stack.bytes, limits: small) else { return XCTFail("stack") }

        var marks = PickleAssembler()
        marks.bytes += [UInt8](repeating: 0x28, count: 70_000); marks.stop()
        guard case .limitExceeded? = loadError(marks.bytes) else { return XCTFail("marks") }

        var wide = PickleAssembler(); wide.op(0x5D, 0x28)
        for _ in 0..<200_000 { wide.op(0x4E) }
        wide.op(0x65); wide.stop()
        XCTAssertNil(loadError(wide.bytes), "a wide flat list is fine")
    }

    /// Random corruption of valid streams never crashes the reader.
    func testRandomCorruptionNeverCrashes() {
        var rng = SplitMix64(seed: 0x9E37_79B9_7F4A_7C15)
        func next() -> UInt64 { rng.next() }
        let sources = [PickleSamplesNumpy2.arraysP4, PickleSamplesNumpy2.arraysP5, PickleSamplesNumpy1.arraysP2,
                       PickleSamplesNumpy2.plainP0, PickleSamplesNumpy2.plainP1, PickleSamplesNumpy2.plainP3].map(hexBytes)
        var failures = 0
        for i in 0..<3000 {
            var bytes = sources[i % sources.count]
            for _ in 0..<(1 + Int(next() % 4)) {
                let at = Int(next() % UInt64(bytes.count))
                switch next() % 3 {
                case 0: bytes[at] = UInt8(truncatingIfNeeded: next())
                case 1: bytes.remove(at: at)
                default: bytes.insert(UInt8(truncatingIfNeeded: next()), at: at)
                }
            }
            if loadError(bytes) != nil { failures += 1 }
            _ = try? Joblib.load(bytes: bytes)
        }
        XCTAssertGreaterThan(failures, 0)
    }
}

final class JoblibContainerTests: XCTestCase {
    func expected() -> PickleValue { var d = PickleDict(); d.set(.string("n"), .int(3)); return .dict(d) }

    func testCompressionDetection() {
        func detect(_ hex: String) -> Joblib.Compression { hexBytes(hex).withUnsafeBytes { Joblib.compression(of: $0) } }
        XCTAssertEqual(detect(PickleSamplesNumpy2.zlibSmall), .zlib)
        XCTAssertEqual(detect(PickleSamplesNumpy2.gzipSmall), .gzip)
        XCTAssertEqual(detect(PickleSamplesNumpy2.bz2Small), .bz2)
        XCTAssertEqual(detect(PickleSamplesNumpy2.zfSmall), .zfile)
        XCTAssertEqual(detect(PickleSamplesNumpy2.plainSmall), .none)
        XCTAssertEqual(([0xFD, 0x37, 0x7A, 0x58, 0x5A, 0] as [UInt8]).withUnsafeBytes { Joblib.compression(of: $0) }, .xz)
    }

    func testDecompressesZlibGzipAndZF() throws {
        for hex in [PickleSamplesNumpy2.zlibSmall, PickleSamplesNumpy2.zlibConcat, PickleSamplesNumpy2.gzipSmall,
                    PickleSamplesNumpy2.zfSmall, PickleSamplesNumpy2.plainSmall] {
            XCTAssertEqual(try Joblib.load(bytes: hexBytes(hex)), expected())
        }
    }

    func testUnsupportedAndCorruptCompression() {
        do {
            _ = try Joblib.load(bytes: hexBytes(PickleSamplesNumpy2.bz2Small))
            XCTFail("bz2 must be refused")
        } catch {
            guard case .unsupported = error else { return XCTFail("\(error)") }
            XCTAssertTrue(error.description.contains("bz2"), error.description)
        }
        var corrupt = hexBytes(PickleSamplesNumpy2.zlibSmall)
        corrupt[corrupt.count / 2] ^= 0x55
        XCTAssertThrowsError(try Joblib.load(bytes: corrupt))
        let whole = hexBytes(PickleSamplesNumpy2.gzipSmall)
        for n in 1..<whole.count { XCTAssertThrowsError(try Joblib.load(bytes: Array(whole[0..<n])), "gzip prefix \(n)") }
    }

    /// A zlib bomb stops at the decompression cap.
    func testDecompressionCap() {
        var a = PickleAssembler(); a.binbytes([UInt8](repeating: 0, count: 1 << 20)); a.stop()
        var compressed = [UInt8](repeating: 0, count: 1 << 16)
        var size = UInt(compressed.count)
        XCTAssertEqual(compressed.withUnsafeMutableBufferPointer { out in
            a.bytes.withUnsafeBufferPointer { zlibCompress(out.baseAddress!, &size, $0.baseAddress!, UInt($0.count)) }
        }, 0)
        let bytes = Array(compressed[0..<Int(size)])
        XCTAssertNoThrow(try Joblib.load(bytes: bytes))
        do {
            _ = try Joblib.load(bytes: bytes, maxDecompressedBytes: 100_000)
            XCTFail("the cap must be enforced")
        } catch {
            guard case .limitExceeded = error else { return XCTFail("\(error)") }
        }
    }
}

/// zlib's compress(), for building test data (libz is linked through Checkpoints).
@_silgen_name("compress")
func zlibCompress(_ dest: UnsafeMutablePointer<UInt8>, _ destLen: UnsafeMutablePointer<UInt>, _ source: UnsafePointer<UInt8>, _ sourceLen: UInt) -> Int32
