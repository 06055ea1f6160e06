-- ringlog.sys.lua — kx's ring log as a Lua driver: /dev/lualog keeps the
-- newest bytes written to it (RingLog's behaviour, in the seed's Lua API).
-- A write appends; a read returns the log from its offset without consuming
-- it, and end of file past the end; IOCTL_LUALOG_CLEAR empties it.

local tStatus = require("errcheck")
local oKMD = require("kmd_api")
local tDK = require("shared_structs")

g_tDriverInfo = {
  sDriverName = "LuaRingLog",
  sDriverType = tDK.DRIVER_TYPE_KMD,
  nLoadPriority = 800,
  sVersion = "@KEXT_VERSION@",
}

local DEVICE_NAME = "\\Device\\LuaRingLog0"
local LINK_NAME = "/dev/lualog"
local CAPACITY = 4096
-- CTL_CODE(FILE_DEVICE_UNKNOWN, 0x800, METHOD_BUFFERED, FILE_WRITE_ACCESS)
local IOCTL_LUALOG_CLEAR = (0x22 << 16) | (2 << 14) | (0x800 << 2)

local g_pDevice = nil

-- The log is one string, trimmed to the newest CAPACITY bytes on each write.
local function fWrite(pDevice, pIrp)
  local tExt = pDevice.pDeviceExtension
  local sData = pIrp.tParameters.sData or ""
  local sLog = tExt.sLog .. sData
  if #sLog > CAPACITY then
    sLog = sLog:sub(#sLog - CAPACITY + 1)
  end
  tExt.sLog = sLog
  oKMD.DkCompleteRequest(pIrp, tStatus.STATUS_SUCCESS, #sData)
end

local function fRead(pDevice, pIrp)
  local sLog = pDevice.pDeviceExtension.sLog
  local nOffset = pIrp.tParameters.nOffset
  if nOffset >= #sLog then
    oKMD.DkCompleteRequest(pIrp, tStatus.STATUS_END_OF_FILE, 0)
    return
  end
  oKMD.DkCompleteRequest(pIrp, tStatus.STATUS_SUCCESS,
                         sLog:sub(nOffset + 1, nOffset + pIrp.tParameters.nLength))
end

local function fControl(pDevice, pIrp)
  if pIrp.tParameters.nIoControlCode == IOCTL_LUALOG_CLEAR then
    pDevice.pDeviceExtension.sLog = ""
    oKMD.DkCompleteRequest(pIrp, tStatus.STATUS_SUCCESS)
  else
    oKMD.DkCompleteRequest(pIrp, tStatus.STATUS_INVALID_DEVICE_REQUEST)
  end
end

local function fSucceed(pDevice, pIrp)
  oKMD.DkCompleteRequest(pIrp, tStatus.STATUS_SUCCESS)
end

function DriverUnload(pDriverObject)
  oKMD.DkDeleteSymbolicLink(LINK_NAME)
  oKMD.DkDeleteDevice(g_pDevice)
  return tStatus.STATUS_SUCCESS
end

function DriverEntry(pDriverObject)
  pDriverObject.tDispatch[tDK.IRP_MJ_CREATE] = fSucceed
  pDriverObject.tDispatch[tDK.IRP_MJ_CLOSE] = fSucceed
  pDriverObject.tDispatch[tDK.IRP_MJ_WRITE] = fWrite
  pDriverObject.tDispatch[tDK.IRP_MJ_READ] = fRead
  pDriverObject.tDispatch[tDK.IRP_MJ_DEVICE_CONTROL] = fControl
  pDriverObject.fDriverUnload = DriverUnload
  local nStatus, pDevice = oKMD.DkCreateDevice(pDriverObject, DEVICE_NAME)
  if nStatus ~= tStatus.STATUS_SUCCESS then
    return nStatus
  end
  pDevice.pDeviceExtension.sLog = ""
  oKMD.DkSetDeviceSecurity(pDevice, 0, 0, 438) -- 0666: anyone may log
  nStatus = oKMD.DkCreateSymbolicLink(LINK_NAME, DEVICE_NAME)
  if nStatus ~= tStatus.STATUS_SUCCESS then
    oKMD.DkDeleteDevice(pDevice)
    return nStatus
  end
  g_pDevice = pDevice
  oKMD.DkPrint("LuaRingLog: " .. LINK_NAME .. " keeps the newest " .. CAPACITY .. " bytes")
  return tStatus.STATUS_SUCCESS
end

while true do
  local bOk, nSender, sSignal, p1, p2 = syscall("signal_pull")
  if bOk and sSignal == "driver_init" then
    syscall("signal_send", nSender, "driver_init_complete", DriverEntry(p1), p1)
  elseif bOk and sSignal == "irp_dispatch" then
    p2(g_pDevice, p1)
  end
end
