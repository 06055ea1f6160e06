-- luasensor.sys.lua — Sensor as a Lua component-mode driver: one instance per
-- KXComponent of type "lua-sensor". /dev/luasensor_<short>_0 reads the value
-- register (offset 0, 32-bit little-endian) as decimal text and a newline,
-- through the instance's hardware proxy. The component is bound only while
-- fAddDevice and fRemoveDevice run, so fAddDevice opens the proxy and keeps
-- it in the device's extension. Each sample_ready event is logged with its
-- source and sequence number.

local tStatus = require("errcheck")
local oKMD = require("kmd_api")
local tDK = require("shared_structs")

g_tDriverInfo = {
  sDriverName = "LuaSensor",
  sDriverType = tDK.DRIVER_TYPE_CMD,
  nLoadPriority = 500,
  sVersion = "@KEXT_VERSION@",
}

local VALUE_REGISTER = 0
local SAMPLE_EVENT = "sample_ready"

local g_tDevices = {} -- instance id -> its device

local function fAddDevice(pDriverObject, nInstance)
  local nStatus, sAddress = oKMD.DkGetComponentAddress()
  if nStatus ~= tStatus.STATUS_SUCCESS then
    return nStatus
  end
  local nProxyStatus, oProxy = oKMD.DkGetHardwareProxy(sAddress)
  if nProxyStatus ~= tStatus.STATUS_SUCCESS then
    oKMD.DkPrint("LuaSensor: " .. sAddress .. ": " .. oProxy)
    return nProxyStatus
  end
  local nDeviceStatus, pDevice = oKMD.DkCreateComponentDevice(pDriverObject, "luasensor")
  if nDeviceStatus ~= tStatus.STATUS_SUCCESS then
    oProxy:release()
    return nDeviceStatus
  end
  oKMD.DkSetDeviceSecurity(pDevice, 0, 0, 292) -- 0444
  pDevice.pDeviceExtension.oProxy = oProxy
  g_tDevices[nInstance] = pDevice
  return tStatus.STATUS_SUCCESS
end

local function fRemoveDevice(pDriverObject, nInstance)
  local pDevice = g_tDevices[nInstance]
  if pDevice then
    g_tDevices[nInstance] = nil
    pDevice.pDeviceExtension.oProxy:release()
    oKMD.DkDeleteDevice(pDevice)
  end
  return tStatus.STATUS_SUCCESS
end

local function fRead(pDevice, pIrp)
  local nStatus, sBytes = pDevice.pDeviceExtension.oProxy:read(VALUE_REGISTER, 4)
  if nStatus ~= tStatus.STATUS_SUCCESS then
    oKMD.DkCompleteRequest(pIrp, nStatus, 0)
    return
  end
  local sText = string.unpack("<I4", sBytes) .. "\n"
  local nOffset = pIrp.tParameters.nOffset
  if nOffset >= #sText then
    oKMD.DkCompleteRequest(pIrp, tStatus.STATUS_END_OF_FILE, 0)
    return
  end
  oKMD.DkCompleteRequest(pIrp, tStatus.STATUS_SUCCESS,
                         sText:sub(nOffset + 1, nOffset + pIrp.tParameters.nLength))
end

function DriverEntry(pDriverObject)
  pDriverObject.tDispatch[tDK.IRP_MJ_READ] = fRead
  pDriverObject.fAddDevice = fAddDevice
  pDriverObject.fRemoveDevice = fRemoveDevice
  return oKMD.DkRegisterInterrupt(SAMPLE_EVENT)
end

while true do
  local bOk, nSender, sSignal, p1, p2, p3, p4 = syscall("signal_pull")
  if bOk and sSignal == "driver_init" then
    syscall("signal_send", nSender, "driver_init_complete", DriverEntry(p1), p1)
  elseif bOk and sSignal == "irp_dispatch" then
    p2(p1.pDeviceObject, p1)
  elseif bOk and sSignal == "hardware_interrupt" then
    oKMD.DkPrint("LuaSensor: " .. p1 .. " from " .. p2 .. " #" .. p4)
  end
end
