using System.Runtime.InteropServices;

namespace CausalTap.Onnx.Native;

/// <summary>Layout of <c>OrtApiBase</c>: the two entry points returned by the exported <c>OrtGetApiBase()</c>.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct OrtApiBase
{
    // const OrtApi* GetApi(uint32_t version)
    public delegate* unmanaged<uint, IntPtr> GetApi;
    // const char* GetVersionString(void)
    public delegate* unmanaged<byte*> GetVersionString;
}

/// <summary>
/// The slots of the C <c>OrtApi</c> struct that this binding uses. <c>OrtApi</c> is a table of function
/// pointers that only ever grows at the end, so a slot's index is fixed forever; each index below is the
/// 0-based position of that member in <c>include/onnxruntime/core/session/onnxruntime_c_api.h</c>, counting every
/// member (ORT_API2_STATUS, ORT_CLASS_RELEASE and plain function pointers, deprecated ones included).
/// The C signature of each slot is next to it. <c>OrtStatus*</c> returns are <see cref="IntPtr"/> and go
/// through <see cref="NativeApiStatus.VerifySuccess"/>.
/// </summary>
internal sealed unsafe class OrtApi
{
    /// <summary>The C API version requested from <c>OrtApiBase::GetApi</c>.</summary>
    public const uint Version = 30;

    #region OrtStatus
    // 0: OrtStatus* CreateStatus(OrtErrorCode code, const char* msg)
    public readonly delegate* unmanaged<int, byte*, IntPtr> CreateStatus;
    // 1: OrtErrorCode GetErrorCode(const OrtStatus* status)
    public readonly delegate* unmanaged<IntPtr, int> GetErrorCode;
    // 2: const char* GetErrorMessage(const OrtStatus* status)
    public readonly delegate* unmanaged<IntPtr, byte*> GetErrorMessage;
    #endregion

    #region OrtEnv
    // 3: OrtStatus* CreateEnv(OrtLoggingLevel log_severity_level, const char* logid, OrtEnv** out)
    public readonly delegate* unmanaged<int, byte*, IntPtr*, IntPtr> CreateEnv;
    #endregion

    #region OrtSession
    // 7: OrtStatus* CreateSession(const OrtEnv* env, const ORTCHAR_T* model_path, const OrtSessionOptions* options, OrtSession** out)
    public readonly delegate* unmanaged<IntPtr, byte*, IntPtr, IntPtr*, IntPtr> CreateSession;
    // 8: OrtStatus* CreateSessionFromArray(const OrtEnv* env, const void* model_data, size_t model_data_length, const OrtSessionOptions* options, OrtSession** out)
    public readonly delegate* unmanaged<IntPtr, void*, nuint, IntPtr, IntPtr*, IntPtr> CreateSessionFromArray;
    // 9: OrtStatus* Run(OrtSession* session, const OrtRunOptions* run_options, const char* const* input_names,
    //                   const OrtValue* const* inputs, size_t input_len, const char* const* output_names,
    //                   size_t output_names_len, OrtValue** outputs)
    public readonly delegate* unmanaged<IntPtr, IntPtr, IntPtr*, IntPtr*, nuint, IntPtr*, nuint, IntPtr*, IntPtr> Run;
    #endregion

    #region OrtSessionOptions
    // 10: OrtStatus* CreateSessionOptions(OrtSessionOptions** options)
    public readonly delegate* unmanaged<IntPtr*, IntPtr> CreateSessionOptions;
    // 13: OrtStatus* SetSessionExecutionMode(OrtSessionOptions* options, ExecutionMode execution_mode)
    public readonly delegate* unmanaged<IntPtr, int, IntPtr> SetSessionExecutionMode;
    // 14: OrtStatus* EnableProfiling(OrtSessionOptions* options, const ORTCHAR_T* profile_file_prefix)
    public readonly delegate* unmanaged<IntPtr, byte*, IntPtr> EnableProfiling;
    // 15: OrtStatus* DisableProfiling(OrtSessionOptions* options)
    public readonly delegate* unmanaged<IntPtr, IntPtr> DisableProfiling;
    // 22: OrtStatus* SetSessionLogSeverityLevel(OrtSessionOptions* options, int session_log_severity_level)
    public readonly delegate* unmanaged<IntPtr, int, IntPtr> SetSessionLogSeverityLevel;
    // 23: OrtStatus* SetSessionGraphOptimizationLevel(OrtSessionOptions* options, GraphOptimizationLevel graph_optimization_level)
    public readonly delegate* unmanaged<IntPtr, int, IntPtr> SetSessionGraphOptimizationLevel;
    // 24: OrtStatus* SetIntraOpNumThreads(OrtSessionOptions* options, int intra_op_num_threads)
    public readonly delegate* unmanaged<IntPtr, int, IntPtr> SetIntraOpNumThreads;
    // 25: OrtStatus* SetInterOpNumThreads(OrtSessionOptions* options, int inter_op_num_threads)
    public readonly delegate* unmanaged<IntPtr, int, IntPtr> SetInterOpNumThreads;
    #endregion

    #region OrtSession metadata
    // 30: OrtStatus* SessionGetInputCount(const OrtSession* session, size_t* out)
    public readonly delegate* unmanaged<IntPtr, nuint*, IntPtr> SessionGetInputCount;
    // 31: OrtStatus* SessionGetOutputCount(const OrtSession* session, size_t* out)
    public readonly delegate* unmanaged<IntPtr, nuint*, IntPtr> SessionGetOutputCount;
    // 33: OrtStatus* SessionGetInputTypeInfo(const OrtSession* session, size_t index, OrtTypeInfo** type_info)
    public readonly delegate* unmanaged<IntPtr, nuint, IntPtr*, IntPtr> SessionGetInputTypeInfo;
    // 34: OrtStatus* SessionGetOutputTypeInfo(const OrtSession* session, size_t index, OrtTypeInfo** type_info)
    public readonly delegate* unmanaged<IntPtr, nuint, IntPtr*, IntPtr> SessionGetOutputTypeInfo;
    // 36: OrtStatus* SessionGetInputName(const OrtSession* session, size_t index, OrtAllocator* allocator, char** value)
    public readonly delegate* unmanaged<IntPtr, nuint, IntPtr, IntPtr*, IntPtr> SessionGetInputName;
    // 37: OrtStatus* SessionGetOutputName(const OrtSession* session, size_t index, OrtAllocator* allocator, char** value)
    public readonly delegate* unmanaged<IntPtr, nuint, IntPtr, IntPtr*, IntPtr> SessionGetOutputName;
    #endregion

    #region OrtRunOptions
    // 39: OrtStatus* CreateRunOptions(OrtRunOptions** out)
    public readonly delegate* unmanaged<IntPtr*, IntPtr> CreateRunOptions;
    // 41: OrtStatus* RunOptionsSetRunLogSeverityLevel(OrtRunOptions* options, int log_severity_level)
    public readonly delegate* unmanaged<IntPtr, int, IntPtr> RunOptionsSetRunLogSeverityLevel;
    // 42: OrtStatus* RunOptionsSetRunTag(OrtRunOptions* options, const char* run_tag)
    public readonly delegate* unmanaged<IntPtr, byte*, IntPtr> RunOptionsSetRunTag;
    // 46: OrtStatus* RunOptionsSetTerminate(OrtRunOptions* options)
    public readonly delegate* unmanaged<IntPtr, IntPtr> RunOptionsSetTerminate;
    // 47: OrtStatus* RunOptionsUnsetTerminate(OrtRunOptions* options)
    public readonly delegate* unmanaged<IntPtr, IntPtr> RunOptionsUnsetTerminate;
    #endregion

    #region OrtValue
    // 48: OrtStatus* CreateTensorAsOrtValue(OrtAllocator* allocator, const int64_t* shape, size_t shape_len,
    //                                       ONNXTensorElementDataType type, OrtValue** out)
    public readonly delegate* unmanaged<IntPtr, long*, nuint, int, IntPtr*, IntPtr> CreateTensorAsOrtValue;
    // 49: OrtStatus* CreateTensorWithDataAsOrtValue(const OrtMemoryInfo* info, void* p_data, size_t p_data_len,
    //                                               const int64_t* shape, size_t shape_len, ONNXTensorElementDataType type, OrtValue** out)
    public readonly delegate* unmanaged<IntPtr, void*, nuint, long*, nuint, int, IntPtr*, IntPtr> CreateTensorWithDataAsOrtValue;
    // 50: OrtStatus* IsTensor(const OrtValue* value, int* out)
    public readonly delegate* unmanaged<IntPtr, int*, IntPtr> IsTensor;
    // 51: OrtStatus* GetTensorMutableData(OrtValue* value, void** out)
    public readonly delegate* unmanaged<IntPtr, void**, IntPtr> GetTensorMutableData;
    #endregion

    #region OrtTypeInfo / OrtTensorTypeAndShapeInfo
    // 55: OrtStatus* CastTypeInfoToTensorInfo(const OrtTypeInfo* type_info, const OrtTensorTypeAndShapeInfo** out)  (out is not owned)
    public readonly delegate* unmanaged<IntPtr, IntPtr*, IntPtr> CastTypeInfoToTensorInfo;
    // 56: OrtStatus* GetOnnxTypeFromTypeInfo(const OrtTypeInfo* type_info, enum ONNXType* out)
    public readonly delegate* unmanaged<IntPtr, int*, IntPtr> GetOnnxTypeFromTypeInfo;
    // 60: OrtStatus* GetTensorElementType(const OrtTensorTypeAndShapeInfo* info, enum ONNXTensorElementDataType* out)
    public readonly delegate* unmanaged<IntPtr, int*, IntPtr> GetTensorElementType;
    // 61: OrtStatus* GetDimensionsCount(const OrtTensorTypeAndShapeInfo* info, size_t* out)
    public readonly delegate* unmanaged<IntPtr, nuint*, IntPtr> GetDimensionsCount;
    // 62: OrtStatus* GetDimensions(const OrtTensorTypeAndShapeInfo* info, int64_t* dim_values, size_t dim_values_length)
    public readonly delegate* unmanaged<IntPtr, long*, nuint, IntPtr> GetDimensions;
    // 63: OrtStatus* GetSymbolicDimensions(const OrtTensorTypeAndShapeInfo* info, const char* dim_params[], size_t dim_params_length)
    public readonly delegate* unmanaged<IntPtr, byte**, nuint, IntPtr> GetSymbolicDimensions;
    // 64: OrtStatus* GetTensorShapeElementCount(const OrtTensorTypeAndShapeInfo* info, size_t* out)
    public readonly delegate* unmanaged<IntPtr, nuint*, IntPtr> GetTensorShapeElementCount;
    // 65: OrtStatus* GetTensorTypeAndShape(const OrtValue* value, OrtTensorTypeAndShapeInfo** out)
    public readonly delegate* unmanaged<IntPtr, IntPtr*, IntPtr> GetTensorTypeAndShape;
    // 67: OrtStatus* GetValueType(const OrtValue* value, enum ONNXType* out)
    public readonly delegate* unmanaged<IntPtr, int*, IntPtr> GetValueType;
    #endregion

    #region OrtMemoryInfo / OrtAllocator
    // 69: OrtStatus* CreateCpuMemoryInfo(enum OrtAllocatorType type, enum OrtMemType mem_type, OrtMemoryInfo** out)
    public readonly delegate* unmanaged<int, int, IntPtr*, IntPtr> CreateCpuMemoryInfo;
    // 76: OrtStatus* AllocatorFree(OrtAllocator* ort_allocator, void* p)
    public readonly delegate* unmanaged<IntPtr, IntPtr, IntPtr> AllocatorFree;
    // 78: OrtStatus* GetAllocatorWithDefaultOptions(OrtAllocator** out)  (returned allocator must not be freed)
    public readonly delegate* unmanaged<IntPtr*, IntPtr> GetAllocatorWithDefaultOptions;
    #endregion

    #region Release functions (ORT_CLASS_RELEASE)
    // 92: void ReleaseEnv(OrtEnv* input)
    public readonly delegate* unmanaged<IntPtr, void> ReleaseEnv;
    // 93: void ReleaseStatus(OrtStatus* input)
    public readonly delegate* unmanaged<IntPtr, void> ReleaseStatus;
    // 94: void ReleaseMemoryInfo(OrtMemoryInfo* input)
    public readonly delegate* unmanaged<IntPtr, void> ReleaseMemoryInfo;
    // 95: void ReleaseSession(OrtSession* input)
    public readonly delegate* unmanaged<IntPtr, void> ReleaseSession;
    // 96: void ReleaseValue(OrtValue* input)
    public readonly delegate* unmanaged<IntPtr, void> ReleaseValue;
    // 97: void ReleaseRunOptions(OrtRunOptions* input)
    public readonly delegate* unmanaged<IntPtr, void> ReleaseRunOptions;
    // 98: void ReleaseTypeInfo(OrtTypeInfo* input)
    public readonly delegate* unmanaged<IntPtr, void> ReleaseTypeInfo;
    // 99: void ReleaseTensorTypeAndShapeInfo(OrtTensorTypeAndShapeInfo* input)
    public readonly delegate* unmanaged<IntPtr, void> ReleaseTensorTypeAndShapeInfo;
    // 100: void ReleaseSessionOptions(OrtSessionOptions* input)
    public readonly delegate* unmanaged<IntPtr, void> ReleaseSessionOptions;
    #endregion

    #region Profiling, providers, config entries
    // 110: OrtStatus* SessionEndProfiling(OrtSession* session, OrtAllocator* allocator, char** out)
    public readonly delegate* unmanaged<IntPtr, IntPtr, IntPtr*, IntPtr> SessionEndProfiling;
    // 125: OrtStatus* GetAvailableProviders(char*** out_ptr, int* provider_length)
    public readonly delegate* unmanaged<byte***, int*, IntPtr> GetAvailableProviders;
    // 126: OrtStatus* ReleaseAvailableProviders(char** ptr, int providers_length)
    public readonly delegate* unmanaged<byte**, int, IntPtr> ReleaseAvailableProviders;
    // 130: OrtStatus* AddSessionConfigEntry(OrtSessionOptions* options, const char* config_key, const char* config_value)
    public readonly delegate* unmanaged<IntPtr, byte*, byte*, IntPtr> AddSessionConfigEntry;
    // 165: OrtStatus* AddRunConfigEntry(OrtRunOptions* options, const char* config_key, const char* config_value)
    public readonly delegate* unmanaged<IntPtr, byte*, byte*, IntPtr> AddRunConfigEntry;
    // 170: OrtStatus* SessionOptionsAppendExecutionProvider_TensorRT_V2(OrtSessionOptions* options, const OrtTensorRTProviderOptionsV2* tensorrt_options)
    public readonly delegate* unmanaged<IntPtr, IntPtr, IntPtr> SessionOptionsAppendExecutionProvider_TensorRT_V2;
    // 171: OrtStatus* CreateTensorRTProviderOptions(OrtTensorRTProviderOptionsV2** out)
    public readonly delegate* unmanaged<IntPtr*, IntPtr> CreateTensorRTProviderOptions;
    // 172: OrtStatus* UpdateTensorRTProviderOptions(OrtTensorRTProviderOptionsV2* tensorrt_options, const char* const* provider_options_keys,
    //                                              const char* const* provider_options_values, size_t num_keys)
    public readonly delegate* unmanaged<IntPtr, byte**, byte**, nuint, IntPtr> UpdateTensorRTProviderOptions;
    // 174: void ReleaseTensorRTProviderOptions(OrtTensorRTProviderOptionsV2* input)
    public readonly delegate* unmanaged<IntPtr, void> ReleaseTensorRTProviderOptions;
    // 204: OrtStatus* SessionOptionsAppendExecutionProvider_CUDA_V2(OrtSessionOptions* options, const OrtCUDAProviderOptionsV2* cuda_options)
    public readonly delegate* unmanaged<IntPtr, IntPtr, IntPtr> SessionOptionsAppendExecutionProvider_CUDA_V2;
    // 205: OrtStatus* CreateCUDAProviderOptions(OrtCUDAProviderOptionsV2** out)
    public readonly delegate* unmanaged<IntPtr*, IntPtr> CreateCUDAProviderOptions;
    // 206: OrtStatus* UpdateCUDAProviderOptions(OrtCUDAProviderOptionsV2* cuda_options, const char* const* provider_options_keys,
    //                                           const char* const* provider_options_values, size_t num_keys)
    public readonly delegate* unmanaged<IntPtr, byte**, byte**, nuint, IntPtr> UpdateCUDAProviderOptions;
    // 208: void ReleaseCUDAProviderOptions(OrtCUDAProviderOptionsV2* input)
    public readonly delegate* unmanaged<IntPtr, void> ReleaseCUDAProviderOptions;
    // 216: OrtStatus* SessionOptionsAppendExecutionProvider(OrtSessionOptions* options, const char* provider_name,
    //          const char* const* provider_options_keys, const char* const* provider_options_values, size_t num_keys)
    public readonly delegate* unmanaged<IntPtr, byte*, byte**, byte**, nuint, IntPtr> SessionOptionsAppendExecutionProvider;
    #endregion

    /// <summary>Binds every slot above from the table returned by <c>GetApi(30)</c>.</summary>
    public OrtApi(IntPtr table)
    {
        var slots = (IntPtr*)table;
        CreateStatus = (delegate* unmanaged<int, byte*, IntPtr>)slots[0];
        GetErrorCode = (delegate* unmanaged<IntPtr, int>)slots[1];
        GetErrorMessage = (delegate* unmanaged<IntPtr, byte*>)slots[2];
        CreateEnv = (delegate* unmanaged<int, byte*, IntPtr*, IntPtr>)slots[3];
        CreateSession = (delegate* unmanaged<IntPtr, byte*, IntPtr, IntPtr*, IntPtr>)slots[7];
        CreateSessionFromArray = (delegate* unmanaged<IntPtr, void*, nuint, IntPtr, IntPtr*, IntPtr>)slots[8];
        Run = (delegate* unmanaged<IntPtr, IntPtr, IntPtr*, IntPtr*, nuint, IntPtr*, nuint, IntPtr*, IntPtr>)slots[9];
        CreateSessionOptions = (delegate* unmanaged<IntPtr*, IntPtr>)slots[10];
        SetSessionExecutionMode = (delegate* unmanaged<IntPtr, int, IntPtr>)slots[13];
        EnableProfiling = (delegate* unmanaged<IntPtr, byte*, IntPtr>)slots[14];
        DisableProfiling = (delegate* unmanaged<IntPtr, IntPtr>)slots[15];
        SetSessionLogSeverityLevel = (delegate* unmanaged<IntPtr, int, IntPtr>)slots[22];
        SetSessionGraphOptimizationLevel = (delegate* unmanaged<IntPtr, int, IntPtr>)slots[23];
        SetIntraOpNumThreads = (delegate* unmanaged<IntPtr, int, IntPtr>)slots[24];
        SetInterOpNumThreads = (delegate* unmanaged<IntPtr, int, IntPtr>)slots[25];
        SessionGetInputCount = (delegate* unmanaged<IntPtr, nuint*, IntPtr>)slots[30];
        SessionGetOutputCount = (delegate* unmanaged<IntPtr, nuint*, IntPtr>)slots[31];
        SessionGetInputTypeInfo = (delegate* unmanaged<IntPtr, nuint, IntPtr*, IntPtr>)slots[33];
        SessionGetOutputTypeInfo = (delegate* unmanaged<IntPtr, nuint, IntPtr*, IntPtr>)slots[34];
        SessionGetInputName = (delegate* unmanaged<IntPtr, nuint, IntPtr, IntPtr*, IntPtr>)slots[36];
        SessionGetOutputName = (delegate* unmanaged<IntPtr, nuint, IntPtr, IntPtr*, IntPtr>)slots[37];
        CreateRunOptions = (delegate* unmanaged<IntPtr*, IntPtr>)slots[39];
        RunOptionsSetRunLogSeverityLevel = (delegate* unmanaged<IntPtr, int, IntPtr>)slots[41];
        RunOptionsSetRunTag = (delegate* unmanaged<IntPtr, byte*, IntPtr>)slots[42];
        RunOptionsSetTerminate = (delegate* unmanaged<IntPtr, IntPtr>)slots[46];
        RunOptionsUnsetTerminate = (delegate* unmanaged<IntPtr, IntPtr>)slots[47];
        CreateTensorAsOrtValue = (delegate* unmanaged<IntPtr, long*, nuint, int, IntPtr*, IntPtr>)slots[48];
        CreateTensorWithDataAsOrtValue = (delegate* unmanaged<IntPtr, void*, nuint, long*, nuint, int, IntPtr*, IntPtr>)slots[49];
        IsTensor = (delegate* unmanaged<IntPtr, int*, IntPtr>)slots[50];
        GetTensorMutableData = (delegate* unmanaged<IntPtr, void**, IntPtr>)slots[51];
        CastTypeInfoToTensorInfo = (delegate* unmanaged<IntPtr, IntPtr*, IntPtr>)slots[55];
        GetOnnxTypeFromTypeInfo = (delegate* unmanaged<IntPtr, int*, IntPtr>)slots[56];
        GetTensorElementType = (delegate* unmanaged<IntPtr, int*, IntPtr>)slots[60];
        GetDimensionsCount = (delegate* unmanaged<IntPtr, nuint*, IntPtr>)slots[61];
        GetDimensions = (delegate* unmanaged<IntPtr, long*, nuint, IntPtr>)slots[62];
        GetSymbolicDimensions = (delegate* unmanaged<IntPtr, byte**, nuint, IntPtr>)slots[63];
        GetTensorShapeElementCount = (delegate* unmanaged<IntPtr, nuint*, IntPtr>)slots[64];
        GetTensorTypeAndShape = (delegate* unmanaged<IntPtr, IntPtr*, IntPtr>)slots[65];
        GetValueType = (delegate* unmanaged<IntPtr, int*, IntPtr>)slots[67];
        CreateCpuMemoryInfo = (delegate* unmanaged<int, int, IntPtr*, IntPtr>)slots[69];
        AllocatorFree = (delegate* unmanaged<IntPtr, IntPtr, IntPtr>)slots[76];
        GetAllocatorWithDefaultOptions = (delegate* unmanaged<IntPtr*, IntPtr>)slots[78];
        ReleaseEnv = (delegate* unmanaged<IntPtr, void>)slots[92];
        ReleaseStatus = (delegate* unmanaged<IntPtr, void>)slots[93];
        ReleaseMemoryInfo = (delegate* unmanaged<IntPtr, void>)slots[94];
        ReleaseSession = (delegate* unmanaged<IntPtr, void>)slots[95];
        ReleaseValue = (delegate* unmanaged<IntPtr, void>)slots[96];
        ReleaseRunOptions = (delegate* unmanaged<IntPtr, void>)slots[97];
        ReleaseTypeInfo = (delegate* unmanaged<IntPtr, void>)slots[98];
        ReleaseTensorTypeAndShapeInfo = (delegate* unmanaged<IntPtr, void>)slots[99];
        ReleaseSessionOptions = (delegate* unmanaged<IntPtr, void>)slots[100];
        SessionEndProfiling = (delegate* unmanaged<IntPtr, IntPtr, IntPtr*, IntPtr>)slots[110];
        GetAvailableProviders = (delegate* unmanaged<byte***, int*, IntPtr>)slots[125];
        ReleaseAvailableProviders = (delegate* unmanaged<byte**, int, IntPtr>)slots[126];
        AddSessionConfigEntry = (delegate* unmanaged<IntPtr, byte*, byte*, IntPtr>)slots[130];
        AddRunConfigEntry = (delegate* unmanaged<IntPtr, byte*, byte*, IntPtr>)slots[165];
        SessionOptionsAppendExecutionProvider_TensorRT_V2 = (delegate* unmanaged<IntPtr, IntPtr, IntPtr>)slots[170];
        CreateTensorRTProviderOptions = (delegate* unmanaged<IntPtr*, IntPtr>)slots[171];
        UpdateTensorRTProviderOptions = (delegate* unmanaged<IntPtr, byte**, byte**, nuint, IntPtr>)slots[172];
        ReleaseTensorRTProviderOptions = (delegate* unmanaged<IntPtr, void>)slots[174];
        SessionOptionsAppendExecutionProvider_CUDA_V2 = (delegate* unmanaged<IntPtr, IntPtr, IntPtr>)slots[204];
        CreateCUDAProviderOptions = (delegate* unmanaged<IntPtr*, IntPtr>)slots[205];
        UpdateCUDAProviderOptions = (delegate* unmanaged<IntPtr, byte**, byte**, nuint, IntPtr>)slots[206];
        ReleaseCUDAProviderOptions = (delegate* unmanaged<IntPtr, void>)slots[208];
        SessionOptionsAppendExecutionProvider = (delegate* unmanaged<IntPtr, byte*, byte**, byte**, nuint, IntPtr>)slots[216];
    }
}
