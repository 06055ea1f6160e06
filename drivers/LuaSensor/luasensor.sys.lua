-- luasensor.sys.lua — Sensor as a Lua component-mode driver: one instance per
-- KXComponent of type "lua-sensor". A read of /dev/luasensor_<short>_0 pends
-- until a sample_ready event whose source is the instance's own component,
-- then answers the value register (offset 0, 32-bit little-endian) as decimal
-- text and a newline, read through the instance's hardware proxy then. A read
-- whose requester goes away is cancelled (DkSetCancelRoutine). The component
-- is bound only while fAddDevice and fRemoveDevice run, so fAddDevice opens
-- the proxy and keeps it, with the address, in the device's extension. Each
-- instance counts its samples in its registry property KXLuaSensorSamples.

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

local SAMPLES_PROPERTY = "KXLuaSensorSamples"

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
  local tExt = pDevice.pDeviceExtension
  tExt.oProxy = oProxy
  tExt.sAddress = sAddress:lower()
  tExt.nInstance = nInstance
  tExt.tReads = {} -- pended reads, oldest first
  oKMD.DkSetProperty(nInstance, SAMPLES_PROPERTY, 0)
  g_tDevices[nInstance] = pDevice
  return tStatus.STATUS_SUCCESS
end

-- Answers pIrp with the value register's text from the read's offset on.
local function fCompleteWithValue(pDevice, pIrp)
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

-- Takes every waiting read off the device and answers it: with the value, or
-- with nStatus when that is not success. A read whose cancel routine is
-- already due is left to it.
local function fCompleteReads(pDevice, nStatus)
  local tReads = pDevice.pDeviceExtension.tReads
  pDevice.pDeviceExtension.tReads = {}
  for _, pIrp in ipairs(tReads) do
    if oKMD.DkSetCancelRoutine(pIrp, nil) == tStatus.STATUS_SUCCESS then
      if nStatus == tStatus.STATUS_SUCCESS then
        fCompleteWithValue(pDevice, pIrp)
      else
        oKMD.DkCompleteRequest(pIrp, nStatus, 0)
      end
    end
  end
end

local function fCancelRead(pDevice, pIrp)
  local tReads = pDevice.pDeviceExtension.tReads
  for i, pWaiting in ipairs(tReads) do
    if pWaiting == pIrp then
      table.remove(tReads, i)
      break
    end
  end
  oKMD.DkCompleteRequest(pIrp, tStatus.STATUS_CANCELLED, 0)
end

local function fRemoveDevice(pDriverObject, nInstance)
  local pDevice = g_tDevices[nInstance]
  if pDevice then
    g_tDevices[nInstance] = nil
    fCompleteReads(pDevice, tStatus.STATUS_DEVICE_REMOVED)
    pDevice.pDeviceExtension.oProxy:release()
    oKMD.DkDeleteDevice(pDevice)
  end
  return tStatus.STATUS_SUCCESS
end

local function fRead(pDevice, pIrp)
  oKMD.DkMarkIrpPending(pIrp)
  if oKMD.DkSetCancelRoutine(pIrp, fCancelRead) == tStatus.STATUS_CANCELLED then
    oKMD.DkCompleteRequest(pIrp, tStatus.STATUS_CANCELLED, 0)
    return
  end
  table.insert(pDevice.pDeviceExtension.tReads, pIrp)
end

-- A new sample on some component: the instance whose address it names
-- counts it and answers its reads.
local function fSampleReady(sSource, nSequence)
  for nInstance, pDevice in pairs(g_tDevices) do
    if pDevice.pDeviceExtension.sAddress == sSource:lower() then
      local _, nSamples = oKMD.DkGetProperty(nInstance, SAMPLES_PROPERTY)
      nSamples = (nSamples or 0) + 1
      oKMD.DkSetProperty(nInstance, SAMPLES_PROPERTY, nSamples)
      oKMD.DkPrint("LuaSensor: " .. SAMPLE_EVENT .. " from " .. sSource .. " #" .. nSequence ..
                   ", sample " .. nSamples)
      fCompleteReads(pDevice, tStatus.STATUS_SUCCESS)
    end
  end
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
    fSampleReady(p2, p4)
  end
end
