# Only on the loader-error test ESP: the shell runs this when the loader has returned to the firmware.
echo "startup.nsh: the loader returned to the firmware; powering off"
reset -s
