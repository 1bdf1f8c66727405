#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A restricted unpickler for Python pickle protocols 0–5 that never executes anything.
///
/// The result is a `PickleValue` tree. GLOBAL, STACK_GLOBAL and INST resolve names only through a fixed
/// allow-list (scikit-learn's LogisticRegression, KNeighborsClassifier, OneClassSVM and their tree indexes,
/// numpy arrays/dtypes/scalars, joblib's array wrapper, a few builtins); anything else is refused with
/// `PickleError.forbiddenGlobal` as soon as its name is read. REDUCE, NEWOBJ, NEWOBJ_EX, INST, OBJ and BUILD on
/// allowed names only assemble data.
///
/// joblib files are handled here too: when BUILD completes a `NumpyArrayWrapper`, the array bytes that
/// joblib writes right after it in the stream are read (with the alignment padding of joblib ≥ 1.2), exactly
/// where joblib's own unpickler reads them. Compressed joblib files: see `Joblib`.
///
/// Hostile input is bounded (`PickleLimits`): stack, marks, memo, nesting depth, total node count and every
/// declared length (checked against the bytes that remain before anything is allocated).
public enum Pickle {
    /// Unpickles `bytes`. `buffers` are the out-of-band buffers a protocol 5 stream may refer to (NEXT_BUFFER).
    public static func load(bytes: [UInt8], buffers: [[UInt8]] = [], limits: PickleLimits = PickleLimits()) throws(PickleError) -> PickleValue {
        do {
            return try bytes.withUnsafeBytes { (raw) throws(PickleError) -> PickleValue in
                try load(raw, buffers: buffers, limits: limits)
            }
        } catch let error as PickleError {
            throw error
        } catch {
            throw .malformed(offset: 0, reason: "\(error)")
        }
    }

    /// Unpickles the bytes in `raw` (which must stay valid during the call).
    public static func load(_ raw: UnsafeRawBufferPointer, buffers: [[UInt8]] = [], limits: PickleLimits = PickleLimits()) throws(PickleError) -> PickleValue {
        var reader = Unpickler(data: raw, position: 0, limits: limits, nesting: 0, buffers: buffers)
        return try reader.run()
    }

    /// Unpickles the file at `path` (uncompressed pickle or joblib file; see `Joblib.load(path:)` for
    /// compressed joblib files). Errors carry the path.
    public static func load(path: String, limits: PickleLimits = PickleLimits()) throws(PickleError) -> PickleValue {
        let file: MappedFile
        do { file = try MappedFile(path: path) } catch { throw .io(path: path, reason: error.description) }
        do {
            return try withExtendedLifetime(file) { () throws(PickleError) -> PickleValue in
                try load(file.bytes, limits: limits)
            }
        } catch {
            throw .inFile(path: path, error: error)
        }
    }
}

/// Bounds the unpickler enforces; the defaults are far above what estimator pickles need.
public struct PickleLimits: Sendable, Equatable {
    /// Entries on the unpickling stack.
    public var maxStack = 1 << 20
    /// Open MARKs.
    public var maxMarks = 1 << 16
    /// Memo entries.
    public var maxMemo = 1 << 20
    /// Nesting depth of the value tree (containers within containers).
    public var maxDepth = 256
    /// Nodes of the value tree, counting every use of a shared (memoized) value.
    public var maxNodes = 1 << 26
    /// Pickle streams nested inside a joblib file (object arrays).
    public var maxNestedStreams = 4

    public init() {}
}

// MARK: - Machinery

/// A mutable container under construction. Memo entries share it, so later SETITEMS/APPENDS/BUILD are seen
/// by every reference; it is turned into a `PickleValue` each time it is used as a child or returned.
final class PickleBox {
    enum Kind {
        case list, dict, set
        case object, joblibWrapper
        /// `_reconstruct` result waiting for its BUILD state.
        case pendingArray
        /// `numpy.dtype(...)` result waiting for its BUILD state.
        case pendingDType(NumpyDType)
        /// Completed by BUILD.
        case done(PickleValue)
    }

    var kind: Kind
    var items: [PickleValue] = []
    var dict = PickleDict()
    var object = PickleObject(module: "", name: "")
    var depth = 1
    var weight = 1

    init(_ kind: Kind) { self.kind = kind }

    var value: PickleValue {
        switch kind {
        case .list: return .list(items)
        case .dict: return .dict(dict)
        case .set: return .set(items)
        case .object, .joblibWrapper: return .object(object)
        case .pendingArray:
            // numpy's placeholder before BUILD: an empty int8 array of shape (0,).
            let empty = try? NDArray(dtype: NumpyDType(kind: .signed, itemSize: 1, byteOrder: .notApplicable),
                                     shape: [0], fortranOrder: false, storage: .raw([]))
            return empty.map { .array($0) } ?? .none
        case let .pendingDType(d): return .dtype(d)
        case let .done(v): return v
        }
    }
}

enum PickleItem {
    case value(PickleValue, depth: Int, weight: Int)
    case box(PickleBox)

    static func leaf(_ v: PickleValue) -> PickleItem { .value(v, depth: 1, weight: 1) }
}

struct Unpickler {
    let data: UnsafeRawBufferPointer
    var pos: Int
    let limits: PickleLimits
    let nesting: Int
    let buffers: [[UInt8]]
    var nextBuffer = 0

    var stack: [PickleItem] = []
    var marks: [Int] = []
    var memo: [Int: PickleItem] = [:]
    /// Offset of the opcode being executed, for messages.
    var at = 0

    init(data: UnsafeRawBufferPointer, position: Int, limits: PickleLimits, nesting: Int, buffers: [[UInt8]]) {
        self.data = data; self.pos = position; self.limits = limits; self.nesting = nesting; self.buffers = buffers
    }

    // MARK: Main loop

    mutating func run() throws(PickleError) -> PickleValue {
        while pos < data.count {
            at = pos
            let op = data[pos]
            pos += 1
            switch op {
            case 0x80:  // PROTO
                let v = try byte("PROTO")
                guard v <= 5 else { throw .unsupported(offset: at, reason: "pickle protocol \(v) (this reader knows 0–5)") }
            case 0x95:  // FRAME: a length prefix only; the reader is sequential anyway
                let n = try length(u64("FRAME"), "FRAME")
                _ = n
            case 0x2E:  // STOP
                let top = try pop()
                return try freeze(top).value

            // Stack manipulation
            case 0x28:  // MARK
                guard marks.count < limits.maxMarks else { throw .limitExceeded(offset: at, reason: "more than \(limits.maxMarks) open MARKs") }
                marks.append(stack.count)
            case 0x30:  // POP
                if stack.count > (marks.last ?? 0) { stack.removeLast() } else if !marks.isEmpty { _ = try popMark() } else {
                    throw .malformed(offset: at, reason: "POP on an empty stack")
                }
            case 0x31:  // POP_MARK
                _ = try popMark()
            case 0x32:  // DUP
                guard stack.count > (marks.last ?? 0), let top = stack.last else { throw .malformed(offset: at, reason: "DUP on an empty stack") }
                try push(top)

            // Constants and numbers
            case 0x4E: try push(.leaf(.none))  // NONE
            case 0x88: try push(.leaf(.bool(true)))  // NEWTRUE
            case 0x89: try push(.leaf(.bool(false)))  // NEWFALSE
            case 0x49:  // INT (text)
                let text = try textLine("INT")
                if text == "00" { try push(.leaf(.bool(false))) } else if text == "01" { try push(.leaf(.bool(true))) } else {
                    try push(.leaf(.int(try parseInt(text, "INT"))))
                }
            case 0x4A:  // BININT
                try push(.leaf(.int(Int64(Int32(bitPattern: try u32("BININT"))))))
            case 0x4B:  // BININT1
                try push(.leaf(.int(Int64(try byte("BININT1")))))
            case 0x4D:  // BININT2
                try push(.leaf(.int(Int64(try u16("BININT2")))))
            case 0x4C:  // LONG (text)
                var text = try textLine("LONG")
                if text.hasSuffix("L") { text.removeLast() }
                try push(.leaf(.int(try parseInt(text, "LONG"))))
            case 0x8A:  // LONG1
                let n = Int(try byte("LONG1"))
                try push(.leaf(.int(try littleEndianInt(take(n, "LONG1")))))
            case 0x8B:  // LONG4
                let n = Int(Int32(bitPattern: try u32("LONG4")))
                guard n >= 0 else { throw .malformed(offset: at, reason: "LONG4 with negative length \(n)") }
                try push(.leaf(.int(try littleEndianInt(take(n, "LONG4")))))
            case 0x46:  // FLOAT (text)
                let text = try textLine("FLOAT")
                guard let v = Double(text) else { throw .malformed(offset: at, reason: "FLOAT literal '\(text.prefix(40))'") }
                try push(.leaf(.float(v)))
            case 0x47:  // BINFLOAT (big-endian)
                try push(.leaf(.float(Double(bitPattern: try u64("BINFLOAT").byteSwapped))))

            // Strings and bytes
            case 0x53:  // STRING (protocol 0, quoted)
                try push(.leaf(.bytes(try quotedString())))
            case 0x54:  // BINSTRING
                let n = Int(Int32(bitPattern: try u32("BINSTRING")))
                guard n >= 0 else { throw .malformed(offset: at, reason: "BINSTRING with negative length \(n)") }
                try push(.leaf(.bytes(try take(n, "BINSTRING"))))
            case 0x55:  // SHORT_BINSTRING
                try push(.leaf(.bytes(try take(Int(try byte("SHORT_BINSTRING")), "SHORT_BINSTRING"))))
            case 0x56:  // UNICODE (raw-unicode-escape line)
                try push(.leaf(.string(try rawUnicodeEscapeLine())))
            case 0x58:  // BINUNICODE
                try push(.leaf(.string(try utf8(take(Int(try u32("BINUNICODE")), "BINUNICODE")))))
            case 0x8C:  // SHORT_BINUNICODE
                try push(.leaf(.string(try utf8(take(Int(try byte("SHORT_BINUNICODE")), "SHORT_BINUNICODE")))))
            case 0x8D:  // BINUNICODE8
                try push(.leaf(.string(try utf8(take(try length(u64("BINUNICODE8"), "BINUNICODE8"), "BINUNICODE8")))))
            case 0x42:  // BINBYTES
                try push(.leaf(.bytes(try take(Int(try u32("BINBYTES")), "BINBYTES"))))
            case 0x43:  // SHORT_BINBYTES
                try push(.leaf(.bytes(try take(Int(try byte("SHORT_BINBYTES")), "SHORT_BINBYTES"))))
            case 0x8E:  // BINBYTES8
                try push(.leaf(.bytes(try take(try length(u64("BINBYTES8"), "BINBYTES8"), "BINBYTES8"))))
            case 0x96:  // BYTEARRAY8
                try push(.leaf(.bytes(try take(try length(u64("BYTEARRAY8"), "BYTEARRAY8"), "BYTEARRAY8"))))
            case 0x97:  // NEXT_BUFFER
                guard nextBuffer < buffers.count else {
                    throw .unsupported(offset: at, reason: "NEXT_BUFFER: the stream uses out-of-band buffers and none (or too few) were supplied")
                }
                try push(.leaf(.bytes(buffers[nextBuffer])))
                nextBuffer += 1
            case 0x98:  // READONLY_BUFFER
                guard case .value(.bytes, _, _)? = stack.last else { throw .malformed(offset: at, reason: "READONLY_BUFFER without a buffer on the stack") }

            // Containers
            case 0x29: try push(.leaf(.tuple([])))  // EMPTY_TUPLE
            case 0x74:  // TUPLE
                try push(try composeTuple(try popMark()))
            case 0x85: try push(try composeTuple([try pop()]))  // TUPLE1
            case 0x86:  // TUPLE2
                let b = try pop(), a = try pop()
                try push(try composeTuple([a, b]))
            case 0x87:  // TUPLE3
                let c = try pop(), b = try pop(), a = try pop()
                try push(try composeTuple([a, b, c]))
            case 0x5D: try push(.box(PickleBox(.list)))  // EMPTY_LIST
            case 0x6C:  // LIST
                let items = try popMark()
                let box = PickleBox(.list)
                for item in items { try add(item, toList: box) }
                try push(.box(box))
            case 0x7D: try push(.box(PickleBox(.dict)))  // EMPTY_DICT
            case 0x64:  // DICT
                let items = try popMark()
                let box = PickleBox(.dict)
                try setItems(items, in: box)
                try push(.box(box))
            case 0x8F: try push(.box(PickleBox(.set)))  // EMPTY_SET
            case 0x61:  // APPEND
                let v = try pop()
                try add(v, toList: try listBox("APPEND"))
            case 0x65:  // APPENDS
                let items = try popMark()
                let box = try listBox("APPENDS")
                for item in items { try add(item, toList: box) }
            case 0x73:  // SETITEM
                let v = try pop(), k = try pop()
                try setItems([k, v], in: try dictBox("SETITEM"))
            case 0x75:  // SETITEMS
                let items = try popMark()
                try setItems(items, in: try dictBox("SETITEMS"))
            case 0x90:  // ADDITEMS
                let items = try popMark()
                guard case let .box(box)? = stack.last, case .set = box.kind else { throw .malformed(offset: at, reason: "ADDITEMS target is not a set") }
                for item in items { try add(item, toList: box) }
            case 0x91:  // FROZENSET
                let items = try popMark()
                try push(try compose(items.map { $0 }) { .frozenset($0) })

            // Names and objects
            case 0x63:  // GLOBAL
                let module = try textLine("GLOBAL module"), name = try textLine("GLOBAL name")
                try push(.leaf(try resolve(module, name)))
            case 0x93:  // STACK_GLOBAL
                let nameItem = try pop(), moduleItem = try pop()
                guard case let .value(.string(name), _, _) = nameItem, case let .value(.string(module), _, _) = moduleItem else {
                    throw .malformed(offset: at, reason: "STACK_GLOBAL needs two strings")
                }
                try push(.leaf(try resolve(module, name)))
            case 0x69:  // INST
                let module = try textLine("INST module"), name = try textLine("INST name")
                let cls = try resolve(module, name)
                let args = try composeTuple(try popMark())
                try push(try instantiate(cls, argsItem: args))
            case 0x6F:  // OBJ
                let items = try popMark()
                guard let first = items.first else { throw .malformed(offset: at, reason: "OBJ without a class") }
                let cls = try freeze(first).value
                try push(try instantiate(cls, argsItem: try composeTuple(Array(items.dropFirst()))))
            case 0x81:  // NEWOBJ
                let args = try pop(), cls = try pop()
                try push(try instantiate(try freeze(cls).value, argsItem: args))
            case 0x92:  // NEWOBJ_EX
                let kwargs = try pop(), args = try pop(), cls = try pop()
                try push(try instantiate(try freeze(cls).value, argsItem: args, kwargsItem: kwargs))
            case 0x52:  // REDUCE
                let args = try pop(), callable = try pop()
                let frozen = try freeze(args)
                guard case let .tuple(a) = frozen.value else { throw .malformed(offset: at, reason: "REDUCE arguments are not a tuple") }
                try push(try reduce(try freeze(callable).value, a, depth: frozen.depth, weight: frozen.weight))
            case 0x62:  // BUILD
                let state = try pop()
                try build(state)

            // Memo
            case 0x70:  // PUT (text)
                try put(Int(try parseInt(try textLine("PUT"), "PUT")))
            case 0x71: try put(Int(try byte("BINPUT")))
            case 0x72: try put(Int(try u32("LONG_BINPUT")))
            case 0x94: try put(memo.count)  // MEMOIZE
            case 0x67:  // GET (text)
                try get(Int(try parseInt(try textLine("GET"), "GET")))
            case 0x68: try get(Int(try byte("BINGET")))
            case 0x6A: try get(Int(try u32("LONG_BINGET")))

            case 0x50, 0x51:
                throw .unsupported(offset: at, reason: "persistent IDs (PERSID/BINPERSID) need an application callback")
            case 0x82, 0x83, 0x84:
                throw .unsupported(offset: at, reason: "extension registry codes (EXT1/2/4) name globals indirectly and are refused")
            default:
                throw .unknownOpcode(opcode: op, offset: at)
            }
        }
        throw .truncated(offset: pos, reason: "the stream ends without a STOP opcode")
    }

    // MARK: Stack

    mutating func push(_ item: PickleItem) throws(PickleError) {
        guard stack.count < limits.maxStack else { throw .limitExceeded(offset: at, reason: "stack deeper than \(limits.maxStack) entries") }
        stack.append(item)
    }

    mutating func pop() throws(PickleError) -> PickleItem {
        guard stack.count > (marks.last ?? 0) else { throw .malformed(offset: at, reason: "stack underflow") }
        return stack.removeLast()
    }

    mutating func popMark() throws(PickleError) -> [PickleItem] {
        guard let mark = marks.popLast() else { throw .malformed(offset: at, reason: "no MARK to pop to") }
        let items = Array(stack[mark...])
        stack.removeSubrange(mark...)
        return items
    }

    mutating func put(_ index: Int) throws(PickleError) {
        guard stack.count > (marks.last ?? 0), let top = stack.last else { throw .malformed(offset: at, reason: "memo PUT on an empty stack") }
        if memo[index] == nil && memo.count >= limits.maxMemo {
            throw .limitExceeded(offset: at, reason: "more than \(limits.maxMemo) memo entries")
        }
        memo[index] = top
    }

    mutating func get(_ index: Int) throws(PickleError) {
        guard let item = memo[index] else { throw .malformed(offset: at, reason: "memo key \(index) was never stored") }
        try push(item)
    }

    // MARK: Values

    /// The value of an item with its depth and node count.
    func freeze(_ item: PickleItem) throws(PickleError) -> (value: PickleValue, depth: Int, weight: Int) {
        switch item {
        case let .value(v, d, w): return (v, d, w)
        case let .box(b): return (b.value, b.depth, b.weight)
        }
    }

    /// A new node whose children are `items`, checking depth and size.
    func compose(_ items: [PickleItem], _ make: ([PickleValue]) -> PickleValue) throws(PickleError) -> PickleItem {
        var values: [PickleValue] = []
        values.reserveCapacity(items.count)
        var depth = 0, weight = 1
        for item in items {
            let f = try freeze(item)
            values.append(f.value)
            depth = max(depth, f.depth)
            weight = try addWeight(weight, f.weight)
        }
        try checkDepth(depth + 1)
        return .value(make(values), depth: depth + 1, weight: weight)
    }

    func composeTuple(_ items: [PickleItem]) throws(PickleError) -> PickleItem { try compose(items) { .tuple($0) } }

    func addWeight(_ a: Int, _ b: Int) throws(PickleError) -> Int {
        let (s, o) = a.addingReportingOverflow(b)
        guard !o, s <= limits.maxNodes else {
            throw .limitExceeded(offset: at, reason: "value tree larger than \(limits.maxNodes) nodes (shared references expand)")
        }
        return s
    }

    func checkDepth(_ d: Int) throws(PickleError) {
        guard d <= limits.maxDepth else { throw .limitExceeded(offset: at, reason: "values nested deeper than \(limits.maxDepth) levels") }
    }

    func adopt(_ item: PickleItem, into box: PickleBox) throws(PickleError) -> PickleValue {
        if case let .box(b) = item, b === box { throw .malformed(offset: at, reason: "a container cannot contain itself") }
        let f = try freeze(item)
        try checkDepth(f.depth + 1)
        box.weight = try addWeight(box.weight, f.weight)
        box.depth = max(box.depth, f.depth + 1)
        return f.value
    }

    func add(_ item: PickleItem, toList box: PickleBox) throws(PickleError) {
        box.items.append(try adopt(item, into: box))
    }

    func setItems(_ items: [PickleItem], in box: PickleBox) throws(PickleError) {
        guard items.count % 2 == 0 else { throw .malformed(offset: at, reason: "odd number of items for a dict") }
        var i = 0
        while i < items.count {
            let k = try adopt(items[i], into: box), v = try adopt(items[i + 1], into: box)
            box.dict.set(k, v)
            i += 2
        }
    }

    func listBox(_ op: String) throws(PickleError) -> PickleBox {
        guard stack.count > (marks.last ?? 0), case let .box(box)? = stack.last, case .list = box.kind else {
            throw .malformed(offset: at, reason: "\(op) target is not a list")
        }
        return box
    }

    func dictBox(_ op: String) throws(PickleError) -> PickleBox {
        guard stack.count > (marks.last ?? 0), case let .box(box)? = stack.last, case .dict = box.kind else {
            throw .malformed(offset: at, reason: "\(op) target is not a dict")
        }
        return box
    }

    // MARK: Globals and construction

    func resolve(_ module: String, _ name: String) throws(PickleError) -> PickleValue {
        guard let role = PickleGlobals.role(module: module, name: name) else { throw .forbiddenGlobal(module: module, name: name) }
        if role == .legacyJoblibWrapper {
            throw .unsupported(offset: at, reason: "\(module).\(name): a joblib < 0.10 file whose arrays live in separate files")
        }
        return .global(module: module, name: name)
    }

    func role(of value: PickleValue) -> (module: String, name: String, role: PickleGlobalRole)? {
        guard case let .global(m, n) = value, let r = PickleGlobals.role(module: m, name: n) else { return nil }
        return (m, n, r)
    }

    /// NEWOBJ / NEWOBJ_EX / INST / OBJ: `cls.__new__(cls, *args, **kwargs)` for an allowed record class.
    func instantiate(_ cls: PickleValue, argsItem: PickleItem, kwargsItem: PickleItem? = nil) throws(PickleError) -> PickleItem {
        let args = try freeze(argsItem)
        guard case let .tuple(a) = args.value else { throw .malformed(offset: at, reason: "constructor arguments are \(args.value.kindDescription), not a tuple") }
        var kwargs = PickleDict(), depth = args.depth, weight = args.weight
        if let kwargsItem {
            let k = try freeze(kwargsItem)
            guard case let .dict(d) = k.value else { throw .malformed(offset: at, reason: "keyword arguments are \(k.value.kindDescription), not a dict") }
            kwargs = d
            depth = max(depth, k.depth)
            weight = try addWeight(weight, k.weight)
        }
        return try instantiate(cls, args: a, kwargs: kwargs, depth: depth, weight: weight)
    }

    func instantiate(_ cls: PickleValue, args: [PickleValue], kwargs: PickleDict, depth: Int, weight: Int) throws(PickleError) -> PickleItem {
        guard let (m, n, r) = role(of: cls) else { throw .malformed(offset: at, reason: "cannot instantiate \(cls.kindDescription)") }
        switch r {
        case .record, .joblibArrayWrapper:
            let box = PickleBox(r == .record ? .object : .joblibWrapper)
            box.object = PickleObject(module: m, name: n, args: args, kwargs: kwargs)
            try checkDepth(depth + 1)
            box.depth = depth + 1
            box.weight = try addWeight(weight, 1)
            return .box(box)
        case .set, .frozenset, .bytearray, .orderedDict:
            return try reduce(cls, args, depth: depth, weight: weight)
        default:
            throw .malformed(offset: at, reason: "\(m).\(n) cannot be instantiated")
        }
    }

    /// REDUCE: the effect of calling an allowed callable, as data.
    func reduce(_ callable: PickleValue, _ args: [PickleValue], depth: Int, weight: Int) throws(PickleError) -> PickleItem {
        guard let (m, n, r) = role(of: callable) else { throw .malformed(offset: at, reason: "REDUCE on \(callable.kindDescription), which is not callable") }
        func bad(_ why: String) -> PickleError { .malformed(offset: at, reason: "\(m).\(n)\(why)") }
        switch r {
        case .record, .joblibArrayWrapper:
            return try instantiate(callable, args: args, kwargs: PickleDict(), depth: depth, weight: weight)
        case .reconstruct:
            guard let cls = args.first, case .ndarrayClass? = role(of: cls)?.role else { throw bad(" only reconstructs numpy.ndarray") }
            return .box(PickleBox(.pendingArray))
        case .dtype:
            guard let s = args.first?.stringValue else { throw bad(": the first argument is not a type string") }
            guard let d = NumpyDType(typeString: s) else { throw .unsupported(offset: at, reason: "numpy dtype '\(s)'") }
            return .box(PickleBox(.pendingDType(d)))
        case .scalar:
            guard args.count == 2, case let .dtype(d) = args[0] else { throw bad(" needs (dtype, data)") }
            if d.kind == .object { return .leaf(args[1]) }
            guard case let .bytes(b) = args[1] else { throw bad(": scalar data is not bytes") }
            return .leaf(.array(try arrayOrThrow(dtype: d, shape: [], fortran: false, storage: .raw(b))))
        case .frombuffer:
            guard args.count == 4, case let .bytes(b) = args[0], case let .dtype(d) = args[1] else { throw bad(" needs (buffer, dtype, shape, order)") }
            let shape = try shapeOf(args[2])
            guard let order = args[3].stringValue, order == "C" || order == "F" else { throw bad(": order must be 'C' or 'F'") }
            guard d.kind != .object else { throw bad(": object arrays have no buffer") }
            return .leaf(.array(try arrayOrThrow(dtype: d, shape: shape, fortran: order == "F", storage: .raw(b))))
        case .copyregReconstructor:
            guard args.count == 3 else { throw bad(" needs (class, base, state)") }
            guard case .builtinObject? = role(of: args[1])?.role else {
                throw .unsupported(offset: at, reason: "copyreg._reconstructor with base \(args[1].kindDescription)")
            }
            guard case .none = args[2] else { throw .unsupported(offset: at, reason: "copyreg._reconstructor with a base state") }
            return try instantiate(args[0], args: [], kwargs: PickleDict(), depth: 0, weight: 0)
        case .codecsEncode:
            guard args.count == 2, case let .string(s) = args[0], let enc = args[1].stringValue else { throw bad(" needs (str, encoding)") }
            return .leaf(.bytes(try encode(s, enc)))
        case .set, .frozenset:
            var elements: [PickleValue] = []
            if let first = args.first {
                switch first {
                case let .list(v), let .tuple(v), let .set(v), let .frozenset(v): elements = v
                default: throw bad(" needs a sequence")
                }
            }
            return .value(r == .set ? .set(elements) : .frozenset(elements), depth: max(depth, 1), weight: max(weight, 1))
        case .bytearray:
            if args.isEmpty { return .leaf(.bytes([])) }
            if case let .bytes(b) = args[0], args.count == 1 { return .leaf(.bytes(b)) }
            if args.count == 2, case let .string(s) = args[0], let enc = args[1].stringValue { return .leaf(.bytes(try encode(s, enc))) }
            throw bad(" with unsupported arguments")
        case .orderedDict:
            let box = PickleBox(.dict)
            if let first = args.first {
                guard let pairs = first.sequence else { throw bad(" needs a sequence of pairs") }
                for pair in pairs {
                    guard let kv = pair.sequence, kv.count == 2 else { throw bad(": an item is not a pair") }
                    try setItems([.leaf(kv[0]), .leaf(kv[1])], in: box)
                }
            }
            return .box(box)
        case .newObj:
            guard args.count == 1 else { throw bad(" needs (class)") }
            return try instantiate(args[0], args: [], kwargs: PickleDict(), depth: 0, weight: 0)
        case .ndarrayClass, .builtinObject, .legacyJoblibWrapper:
            throw bad(" is not callable here")
        }
    }

    /// BUILD: gives the object below the state its state.
    mutating func build(_ stateItem: PickleItem) throws(PickleError) {
        guard stack.count > (marks.last ?? 0), let target = stack.last else { throw .malformed(offset: at, reason: "BUILD without an object") }
        guard case let .box(box) = target else { throw .malformed(offset: at, reason: "BUILD on \(try freeze(target).value.kindDescription)") }
        let state = try adopt(stateItem, into: box)
        switch box.kind {
        case .pendingArray:
            box.kind = .done(.array(try arrayFromState(state)))
        case let .pendingDType(d):
            box.kind = .pendingDType(try dtypeFromState(d, state))
        case .object, .joblibWrapper:
            if case let .dict(new) = state, case let .dict(old)? = box.object.state {
                var merged = old
                for (k, v) in zip(new.keys, new.values) { merged.set(k, v) }
                box.object.state = .dict(merged)
            } else {
                box.object.state = state
            }
            if case .joblibWrapper = box.kind {
                let array = try readJoblibArray(box.object)
                stack[stack.count - 1] = .leaf(array)
            }
        default:
            throw .malformed(offset: at, reason: "BUILD on a \(box.value.kindDescription)")
        }
    }

    // MARK: numpy

    func arrayOrThrow(dtype: NumpyDType, shape: [Int], fortran: Bool, storage: NDArray.Storage) throws(PickleError) -> NDArray {
        do { return try NDArray(dtype: dtype, shape: shape, fortranOrder: fortran, storage: storage) } catch {
            throw .malformed(offset: at, reason: error.description)
        }
    }

    func shapeOf(_ v: PickleValue) throws(PickleError) -> [Int] {
        let dims: [PickleValue]
        switch v {
        case let .tuple(d), let .list(d): dims = d
        case let .int(i): dims = [.int(i)]
        default: throw .malformed(offset: at, reason: "array shape is \(v.kindDescription), not a tuple")
        }
        var shape: [Int] = []
        for d in dims {
            guard let i = d.intValue, i >= 0, i <= Int64(Int32.max) * 1024 else { throw .malformed(offset: at, reason: "invalid array dimension \(d.kindDescription)") }
            shape.append(Int(i))
        }
        guard shape.count <= 64, NDArray.elementCount(shape) != nil else { throw .malformed(offset: at, reason: "invalid array shape \(shape)") }
        return shape
    }

    /// ndarray.__setstate__: (version, shape, dtype, is_fortran, data) or the older 4-tuple.
    func arrayFromState(_ state: PickleValue) throws(PickleError) -> NDArray {
        guard case var .tuple(t) = state, t.count == 4 || t.count == 5 else {
            throw .malformed(offset: at, reason: "ndarray state is \(state.kindDescription), not a 4- or 5-tuple")
        }
        if t.count == 5 { t.removeFirst() }
        let shape = try shapeOf(t[0])
        guard case let .dtype(d) = t[1] else { throw .malformed(offset: at, reason: "ndarray state has no dtype") }
        guard let fortran = t[2].intValue else { throw .malformed(offset: at, reason: "ndarray state: is_fortran is \(t[2].kindDescription)") }
        switch t[3] {
        case let .bytes(b):
            return try arrayOrThrow(dtype: d, shape: shape, fortran: fortran != 0, storage: .raw(b))
        case let .list(items) where d.kind == .object:
            return try arrayOrThrow(dtype: d, shape: shape, fortran: fortran != 0, storage: .objects(items))
        default:
            throw .malformed(offset: at, reason: "ndarray data is \(t[3].kindDescription)")
        }
    }

    /// dtype.__setstate__: (version, byteorder, subarray, names, fields, elsize, alignment, flags[, metadata]).
    func dtypeFromState(_ base: NumpyDType, _ state: PickleValue) throws(PickleError) -> NumpyDType {
        guard case let .tuple(t) = state, t.count >= 2, let order = t[1].stringValue else {
            throw .malformed(offset: at, reason: "dtype state is \(state.kindDescription)")
        }
        var d = base
        switch order {
        case "<": d.byteOrder = .little
        case ">": d.byteOrder = .big
        case "|": d.byteOrder = .notApplicable
        case "=": d.byteOrder = 1.littleEndian == 1 ? .little : .big
        default: throw .malformed(offset: at, reason: "dtype byte order '\(order)'")
        }
        if d.itemSize <= 1 && d.kind != .unicode { d.byteOrder = .notApplicable }
        if t.count >= 6, let elsize = t[5].intValue, elsize > 0, [.unicode, .bytes, .void].contains(d.kind) {
            guard elsize <= 1 << 30 else { throw .malformed(offset: at, reason: "dtype element size \(elsize)") }
            d.itemSize = Int(elsize)
        }
        if t.count >= 5 {
            if case .none = t[2] {} else { d.isStructured = true }
            if case .none = t[3] {} else { d.isStructured = true }
        }
        if d.kind == .void { d.isStructured = true }
        return d
    }

    // MARK: joblib

    /// Reads the array joblib wrote right after a `NumpyArrayWrapper`.
    mutating func readJoblibArray(_ wrapper: PickleObject) throws(PickleError) -> PickleValue {
        let attrs = wrapper.attributes
        guard let shapeValue = attrs["shape"] else { throw .malformed(offset: at, reason: "NumpyArrayWrapper without shape") }
        let shape = try shapeOf(shapeValue)
        guard case let .dtype(d)? = attrs["dtype"] else { throw .malformed(offset: at, reason: "NumpyArrayWrapper without dtype") }
        let order = attrs["order"]?.stringValue ?? "C"
        guard order == "C" || order == "F" else { throw .malformed(offset: at, reason: "NumpyArrayWrapper order '\(order)'") }
        if let alignment = attrs["numpy_array_alignment_bytes"], alignment != .none {
            let padding = Int(try byte("joblib padding length"))
            _ = try take(padding, "joblib padding", copy: false)
        }
        if d.kind == .object {
            guard nesting < limits.maxNestedStreams else { throw .limitExceeded(offset: pos, reason: "pickle streams nested deeper than \(limits.maxNestedStreams)") }
            var inner = Unpickler(data: data, position: pos, limits: limits, nesting: nesting + 1, buffers: [])
            let value = try inner.run()
            pos = inner.pos
            return value
        }
        guard let n = NDArray.elementCount(shape) else { throw .malformed(offset: at, reason: "invalid shape \(shape)") }
        let (size, overflow) = n.multipliedReportingOverflow(by: d.itemSize)
        guard !overflow else { throw .malformed(offset: at, reason: "array of shape \(shape) is too large") }
        let bytes = try take(size, "joblib array data (\(d.descr) \(shape))")
        return .array(try arrayOrThrow(dtype: d, shape: shape, fortran: order == "F", storage: .raw(bytes)))
    }

    // MARK: Reading primitives

    mutating func need(_ n: Int, _ what: String) throws(PickleError) {
        guard n >= 0, data.count - pos >= n else {
            throw .truncated(offset: pos, reason: "\(what) needs \(n) bytes, \(data.count - pos) left")
        }
    }

    mutating func byte(_ what: String) throws(PickleError) -> UInt8 {
        try need(1, what)
        defer { pos += 1 }
        return data[pos]
    }

    mutating func u16(_ what: String) throws(PickleError) -> UInt16 {
        try need(2, what)
        defer { pos += 2 }
        return UInt16(littleEndian: data.loadUnaligned(fromByteOffset: pos, as: UInt16.self))
    }

    mutating func u32(_ what: String) throws(PickleError) -> UInt32 {
        try need(4, what)
        defer { pos += 4 }
        return UInt32(littleEndian: data.loadUnaligned(fromByteOffset: pos, as: UInt32.self))
    }

    mutating func u64(_ what: String) throws(PickleError) -> UInt64 {
        try need(8, what)
        defer { pos += 8 }
        return UInt64(littleEndian: data.loadUnaligned(fromByteOffset: pos, as: UInt64.self))
    }

    /// A declared 64-bit length, refused if it exceeds the bytes that remain.
    func length(_ n: UInt64, _ what: String) throws(PickleError) -> Int {
        let left = data.count - pos
        guard n <= UInt64(left) else { throw .truncated(offset: pos, reason: "\(what) declares \(n) bytes, \(left) left") }
        return Int(n)
    }

    mutating func take(_ n: Int, _ what: String, copy: Bool = true) throws(PickleError) -> [UInt8] {
        try need(n, what)
        defer { pos += n }
        guard copy, n > 0 else { return [] }
        return Array(UnsafeRawBufferPointer(rebasing: data[pos..<(pos + n)]))
    }

    /// A protocol-0 text argument: bytes up to the next newline.
    mutating func lineBytes(_ what: String) throws(PickleError) -> UnsafeRawBufferPointer {
        let start = pos
        guard let base = data.baseAddress, start < data.count,
              let hit = memchr(base + start, 0x0A, data.count - start) else {
            throw .truncated(offset: pos, reason: "\(what): no end of line")
        }
        let end = base.distance(to: UnsafeRawPointer(hit))
        pos = end + 1
        return UnsafeRawBufferPointer(rebasing: data[start..<end])
    }

    mutating func textLine(_ what: String) throws(PickleError) -> String {
        let raw = try lineBytes(what)
        guard let s = strictUTF8(raw) else { throw .malformed(offset: at, reason: "\(what) is not UTF-8") }
        return s.hasSuffix("\r") ? String(s.dropLast()) : s
    }

    func parseInt(_ text: String, _ what: String) throws(PickleError) -> Int64 {
        let t = text.trimmingWhitespace
        guard let v = Int64(t) else {
            if !t.isEmpty, t.drop(while: { $0 == "-" || $0 == "+" }).allSatisfy(\.isNumber) {
                throw .unsupported(offset: at, reason: "\(what) integer \(t.prefix(40)) does not fit in 64 bits")
            }
            throw .malformed(offset: at, reason: "\(what) literal '\(t.prefix(40))'")
        }
        return v
    }

    /// A little-endian two's-complement integer (LONG1/LONG4), refused beyond 64 bits.
    func littleEndianInt(_ b: [UInt8]) throws(PickleError) -> Int64 {
        if b.isEmpty { return 0 }
        let negative = b[b.count - 1] & 0x80 != 0
        let fill: UInt8 = negative ? 0xFF : 0
        if b.count > 8 {
            guard b[8...].allSatisfy({ $0 == fill }), (b[7] & 0x80 != 0) == negative else {
                throw .unsupported(offset: at, reason: "integer of \(b.count) bytes does not fit in 64 bits")
            }
        }
        var v: UInt64 = 0
        for i in 0..<8 {
            let byte = i < b.count ? b[i] : fill
            v |= UInt64(byte) << (8 * UInt64(i))
        }
        return Int64(bitPattern: v)
    }

    func utf8(_ b: [UInt8]) throws(PickleError) -> String {
        guard let s = b.withUnsafeBytes({ strictUTF8($0) }) else { throw .malformed(offset: at, reason: "string is not valid UTF-8") }
        return s
    }

    /// `str.encode(encoding)` for the encodings Python's pickler uses (latin-1), plus UTF-8 and ASCII.
    func encode(_ s: String, _ encoding: String) throws(PickleError) -> [UInt8] {
        switch encoding.lowercased().replacingUnderscores {
        case "latin1", "latin-1", "iso-8859-1", "iso8859-1", "l1":
            // Straight from the UTF-8 bytes: code points ≤ 0xFF are one byte or C2/C3 + one continuation byte.
            var utf8 = s
            let out: [UInt8]? = utf8.withUTF8 { u -> [UInt8]? in
                var result = [UInt8](repeating: 0, count: u.count)
                var n = 0, i = 0
                let ok = result.withUnsafeMutableBufferPointer { dst -> Bool in
                    while i < u.count {
                        let b = u[i]
                        if b < 0x80 {
                            dst[n] = b; i += 1
                        } else if (b == 0xC2 || b == 0xC3), i + 1 < u.count {
                            dst[n] = (b & 0x03) << 6 | (u[i + 1] & 0x3F); i += 2
                        } else {
                            return false
                        }
                        n += 1
                    }
                    return true
                }
                guard ok else { return nil }
                result.removeSubrange(n...)
                return result
            }
            guard let out else { throw .malformed(offset: at, reason: "string has characters beyond latin-1") }
            return out
        case "utf-8", "utf8":
            return Array(s.utf8)
        case "ascii", "us-ascii":
            guard s.utf8.allSatisfy({ $0 < 0x80 }) else { throw .malformed(offset: at, reason: "string is not ASCII") }
            return Array(s.utf8)
        default:
            throw .unsupported(offset: at, reason: "text encoding '\(encoding)'")
        }
    }

    /// STRING: a quoted Python literal with backslash escapes, as bytes.
    mutating func quotedString() throws(PickleError) -> [UInt8] {
        var raw = Array(try lineBytes("STRING"))
        if raw.last == 0x0D { raw.removeLast() }
        guard raw.count >= 2, let q = raw.first, q == 0x27 || q == 0x22, raw.last == q else {
            throw .malformed(offset: at, reason: "STRING literal is not quoted")
        }
        let body = raw[1..<(raw.count - 1)]
        var out: [UInt8] = []
        out.reserveCapacity(body.count)
        var i = body.startIndex
        func hexValue(_ c: UInt8) -> UInt8? {
            switch c {
            case 0x30...0x39: return c - 0x30
            case 0x61...0x66: return c - 0x61 + 10
            case 0x41...0x46: return c - 0x41 + 10
            default: return nil
            }
        }
        while i < body.endIndex {
            let c = body[i]
            i += 1
            guard c == 0x5C, i < body.endIndex else { out.append(c); continue }
            let e = body[i]
            i += 1
            switch e {
            case 0x6E: out.append(0x0A)  // \n
            case 0x74: out.append(0x09)  // \t
            case 0x72: out.append(0x0D)  // \r
            case 0x61: out.append(0x07)  // \a
            case 0x62: out.append(0x08)  // \b
            case 0x66: out.append(0x0C)  // \f
            case 0x76: out.append(0x0B)  // \v
            case 0x0A: break  // line continuation
            case 0x5C, 0x27, 0x22: out.append(e)
            case 0x78:  // \xhh
                guard i + 1 < body.endIndex, let h = hexValue(body[i]), let l = hexValue(body[i + 1]) else {
                    throw .malformed(offset: at, reason: "bad \\x escape in STRING")
                }
                out.append(h << 4 | l)
                i += 2
            case 0x30...0x37:  // octal, up to 3 digits
                var v = Int(e - 0x30)
                var digits = 1
                while digits < 3, i < body.endIndex, (0x30...0x37).contains(body[i]) {
                    v = v * 8 + Int(body[i] - 0x30)
                    i += 1
                    digits += 1
                }
                out.append(UInt8(truncatingIfNeeded: v))
            default:
                out.append(0x5C)
                out.append(e)
            }
        }
        return out
    }

    /// UNICODE: a raw-unicode-escape line (latin-1 bytes with \uXXXX and \UXXXXXXXX escapes).
    mutating func rawUnicodeEscapeLine() throws(PickleError) -> String {
        let raw = try lineBytes("UNICODE")
        var scalars = String.UnicodeScalarView()
        var i = 0
        while i < raw.count {
            let c = raw[i]
            if c == 0x5C, i + 1 < raw.count, raw[i + 1] == 0x75 || raw[i + 1] == 0x55 {
                let digits = raw[i + 1] == 0x75 ? 4 : 8
                guard i + 2 + digits <= raw.count,
                      let v = UInt32(String(decoding: UnsafeRawBufferPointer(rebasing: raw[(i + 2)..<(i + 2 + digits)]), as: UTF8.self), radix: 16),
                      let scalar = Unicode.Scalar(v) else {
                    throw .malformed(offset: at, reason: "bad \\u escape in UNICODE")
                }
                scalars.append(scalar)
                i += 2 + digits
            } else {
                scalars.append(Unicode.Scalar(c))
                i += 1
            }
        }
        return String(scalars)
    }
}

extension String {
    fileprivate var trimmingWhitespace: String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" || f == "\r" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" || l == "\r" { s.removeLast() }
        return String(s)
    }

    fileprivate var replacingUnderscores: String { String(map { $0 == "_" ? "-" : $0 }) }
}
